"""Synthetic students' facts for demos, tests and benchmarks: seeded, vectorised, realistic shares.

`generate_facts(n, seed)` returns one row per student (`student_id` + every fact of the
catalogue) in the *external* representation a batch file carries: money as Decimal(12, 2),
`academic_rank_pct` as Decimal(5, 2), booleans, enums as strings; unknown values are nulls.

Pure (polars only; no Flask, no database). Randomness is polars' seeded 64-bit hash of the row
index, one independent stream per fact, so a (n, seed) pair always gives the same frame with the
pinned polars version, and row i does not depend on n.

The agency facts follow a rule set's vocabulary when one is given: the ones the demo has shares for keep
them (the shipped rules give the same frame as none), a status it has no share for is true with OTHER_SHARE
(a stream of its own, drawn after all the others), an attribute fact it does not know is unknown, and agency
facts the vocabulary does not name are left out.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from aidservice.engine.vocabulary import Vocabulary

STAGES: dict[str, float] = {  # share of enrolled students (Jiangsu-like)
    "preschool": 0.16,
    "primary": 0.31,
    "junior": 0.15,
    "senior_high": 0.08,
    "vocational": 0.05,
    "undergraduate": 0.19,
    "master": 0.045,
    "doctor": 0.015,
}
GRADES: dict[str, int] = {  # years of study per stage (vocational: some five-year programmes)
    "preschool": 3,
    "primary": 6,
    "junior": 3,
    "senior_high": 3,
    "vocational": 5,
    "undergraduate": 5,
    "master": 3,
    "doctor": 4,
}
# Prefecture cities (code → share of students, monthly subsistence line in yuan of the 2020 baseline).
CITIES: dict[str, tuple[float, int]] = {
    "320100": (0.11, 900),
    "320200": (0.08, 900),
    "320300": (0.12, 650),
    "320400": (0.06, 900),
    "320500": (0.13, 900),
    "320600": (0.08, 750),
    "320700": (0.06, 650),
    "320800": (0.06, 650),
    "320900": (0.08, 650),
    "321000": (0.05, 750),
    "321100": (0.04, 900),
    "321200": (0.05, 750),
    "321300": (0.06, 650),
}
LINE_MULTIPLES = (1.5, 2.5, 3.5)  # income thresholds of the identification standard (× annual line)
RANK_THRESHOLDS = (2, 30)  # academic_rank_pct thresholds of the scholarships

# Tuition and miscellaneous fee per year in yuan: (low, high) by stage; compulsory education is free.
TUITION: dict[str, tuple[int, int]] = {
    "preschool": (1200, 6000),
    "primary": (0, 0),
    "junior": (0, 0),
    "senior_high": (1200, 2600),
    "vocational": (2000, 4800),
    "undergraduate": (4600, 6500),
    "master": (8000, 8000),
    "doctor": (10000, 10000),
}

AGENCY_FACTS = (
    "registered_poor",
    "poverty_monitored",
    "subsistence_allowance",
    "extreme_poverty_support",
    "orphan",
    "de_facto_orphan",
    "martyr_child",
    "disabled",
    "disability_grade",
    "disabled_parent",
)
"""The agency facts the demo has shares for (below); a vocabulary decides which of them a frame carries."""
OTHER_SHARE = 0.005

_HASH = pl.UInt64
_TWO64 = float(2**64)


def generate_facts(n: int, seed: int = 0, vocabulary: Vocabulary | None = None) -> pl.DataFrame:
    """`n` students' facts, reproducible from `seed`, with the agency facts of `vocabulary` when given (see the
    module docstring for the representation)."""
    if n < 0:
        raise ValueError("n must be >= 0")
    streams: dict[str, int] = {}

    def u(name: str) -> pl.Expr:
        """A uniform in [0, 1) per row, independent per `name`."""
        index = streams.setdefault(name, len(streams) + 1)
        h = pl.col("_i").hash(seed=(seed * 1_000_003 + index * 7919) & 0xFFFFFFFFFFFF)
        return (h.cast(pl.Float64) / _TWO64).clip(0.0, 0.999_999_999)

    def chance(name: str, share: float | pl.Expr) -> pl.Expr:
        return u(name) < share

    stage = _pick(u("stage"), list(STAGES), list(STAGES.values()))
    base = pl.LazyFrame({"_i": pl.int_range(n, dtype=_HASH, eager=True)}).with_columns(stage.alias("stage"))
    is_stage = {s: pl.col("stage") == s for s in STAGES}
    higher = pl.col("stage").is_in(["undergraduate", "master", "doctor"])
    graduate = pl.col("stage").is_in(["master", "doctor"])

    grade_max = pl.col("stage").replace_strict(GRADES, return_dtype=pl.Int64)
    grade = (u("grade") * grade_max).floor().cast(pl.Int64) + 1
    # five-year vocational and five-year undergraduate programmes are rare
    grade = (
        pl.when(is_stage["vocational"] & (grade > 3) & chance("voc5", 0.8))
        .then(u("g2").lt(0.5).cast(pl.Int64) + 2)
        .otherwise(grade)
    )
    grade = pl.when(is_stage["undergraduate"] & (grade == 5) & chance("ug5", 0.9)).then(4).otherwise(grade)

    city = _pick(u("city"), list(CITIES), [share for share, _ in CITIES.values()])
    city = pl.when(chance("city_null", 0.01)).then(None).otherwise(city)
    monthly = pl.col("city_code").replace_strict(
        {c: line for c, (_, line) in CITIES.items()}, default=750, return_dtype=pl.Int64
    )
    annual_fen = monthly * 12 * 100

    # Income per head per year, in fen: mostly spread over 0-6 × the annual line, a long tail above,
    # and a share exactly on (or one fen around) each threshold.
    multiple = u("inc")
    spread = (multiple * 6.0 * annual_fen.cast(pl.Float64)).cast(pl.Int64)
    tail = (annual_fen.cast(pl.Float64) * (6.0 + u("tail") * u("tail2") * 60.0)).cast(pl.Int64)
    which = (u("onl") * len(LINE_MULTIPLES)).floor().cast(pl.Int64)
    on_line = pl.lit(0, dtype=pl.Int64)
    for i, m in enumerate(LINE_MULTIPLES):
        on_line = pl.when(which == i).then((annual_fen * int(m * 10)) // 10).otherwise(on_line)
    nudge = (u("nudge") * 3).floor().cast(pl.Int64) - 1  # -1, 0, +1 fen
    on_line = on_line + pl.when(chance("exact", 0.6)).then(0).otherwise(nudge)
    kind = u("incomekind")
    income = pl.when(kind < 0.05).then(on_line).when(kind < 0.80).then(spread).otherwise(tail)
    income = pl.when(chance("income_null", 0.08)).then(None).otherwise(income.clip(0))
    income = pl.when(u("round") < 0.5).then((income // 100) * 100).otherwise(income)  # half whole yuan

    low, high = (
        pl.col("stage").replace_strict({s: v[i] for s, v in TUITION.items()}, return_dtype=pl.Int64)
        for i in (0, 1)
    )
    tuition = (low + ((high - low).cast(pl.Float64) * u("fee") / 100).floor().cast(pl.Int64) * 100) * 100
    tuition = pl.when(chance("fee_null", 0.03)).then(None).otherwise(tuition)

    rank = (u("rank") * 10001).floor().cast(pl.Int64)  # hundredths of a percentile, 0.00-100.00
    rank = (
        pl.when(chance("rank_edge", 0.03))
        .then(
            pl.lit(RANK_THRESHOLDS[0] * 100)
            + (u("rank_pick") < 0.5).cast(pl.Int64) * (RANK_THRESHOLDS[1] - RANK_THRESHOLDS[0]) * 100
            + (u("rank_nudge") * 3).floor().cast(pl.Int64)
            - 1
        )
        .otherwise(rank)
        .clip(0, 10000)
    )
    rank = pl.when(chance("rank_null", 0.12)).then(None).otherwise(rank)

    disabled = chance("disabled", 0.012)
    disability_grade = pl.when(disabled & chance("grade_known", 0.9)).then(
        (u("dgrade") * 4).floor().cast(pl.Int64) + 1
    )
    household = (
        pl.when(chance("hh_null", 0.05))
        .then(None)
        .otherwise((u("hh") * u("hh2") * 7).floor().cast(pl.Int64) + 1)
    )

    facts = base.with_columns(grade.alias("grade"), city.alias("city_code")).with_columns(
        (pl.lit("S") + pl.col("_i").cast(pl.Utf8).str.zfill(8)).alias("student_id"),
        chance(
            "boarding",
            pl.when(higher)
            .then(0.9)
            .when(is_stage["senior_high"] | is_stage["vocational"])
            .then(0.5)
            .otherwise(0.1),
        ).alias("boarding"),
        chance("rural", 0.38).alias("rural_hukou"),
        (is_stage["vocational"] & chance("agri", 0.12)).alias("agri_major"),
        (is_stage["vocational"] & chance("arts", 0.06)).alias("arts_performance_major"),
        (is_stage["preschool"] & chance("incl", 0.85)).alias("inclusive_kindergarten"),
        _money(tuition).alias("tuition_fee"),
        (higher & chance("central", 0.2)).alias("central_university"),
        (graduate & chance("salaried", 0.06)).alias("salaried"),
        (is_stage["undergraduate"] & chance("soldier", 0.012)).alias("retired_soldier"),
        _decimal(rank, 5).alias("academic_rank_pct"),
        household.alias("household_size"),
        _money(income).alias("per_capita_income"),
        chance("illness", 0.04).alias("major_illness"),
        chance("disaster", 0.02).alias("disaster"),
        chance("unemployed", 0.05).alias("unemployed_parent"),
        chance("single", 0.06).alias("single_parent"),
        chance("covid", 0.08).alias("covid_impact"),
        chance("infected", 0.005).alias("covid_infected_family"),
        chance("poor", 0.03).alias("registered_poor"),
        chance("monitored", 0.015).alias("poverty_monitored"),
        chance("dibao", 0.02).alias("subsistence_allowance"),
        chance("tekun", 0.003).alias("extreme_poverty_support"),
        chance("orphan", 0.002).alias("orphan"),
        chance("defacto", 0.003).alias("de_facto_orphan"),
        chance("martyr", 0.0005).alias("martyr_child"),
        disabled.alias("disabled"),
        disability_grade.alias("disability_grade"),
        chance("dparent", 0.02).alias("disabled_parent"),
        # the seed's roster fields (after the others, so their random streams stay as they were): no rule
        # reads them; an east–west student's origin is left unknown here, every enrolment is current
        (is_stage["vocational"] & chance("eastwest", 0.01)).alias("east_west_cooperation"),
        pl.lit(None, dtype=pl.Utf8).alias("east_west_origin"),
        pl.lit("enrolled").alias("enrolment_state"),
    )
    order = [
        "student_id",
        "stage",
        "grade",
        "city_code",
        "boarding",
        "rural_hukou",
        "agri_major",
        "arts_performance_major",
        "inclusive_kindergarten",
        "tuition_fee",
        "central_university",
        "salaried",
        "retired_soldier",
        "east_west_cooperation",
        "east_west_origin",
        "enrolment_state",
        "academic_rank_pct",
        "household_size",
        "per_capita_income",
        "major_illness",
        "disaster",
        "unemployed_parent",
        "single_parent",
        "covid_impact",
        "covid_infected_family",
        "registered_poor",
        "poverty_monitored",
        "subsistence_allowance",
        "extreme_poverty_support",
        "orphan",
        "de_facto_orphan",
        "martyr_child",
        "disabled",
        "disability_grade",
        "disabled_parent",
    ]
    if vocabulary is not None:
        named = vocabulary.fact_sources
        attribute_facts = {a.fact for st in vocabulary.statuses.values() for a in st.attributes}
        extra = [name for name in named if name not in AGENCY_FACTS]
        facts = facts.with_columns(
            pl.lit(None, dtype=pl.Int64).alias(name)
            if name in attribute_facts
            else chance(f"other:{name}", OTHER_SHARE).alias(name)
            for name in extra
        )
        order = [name for name in order if name not in AGENCY_FACTS or name in named] + extra
    return facts.select(order).collect()


def _pick(uniform: pl.Expr, values: Sequence[str], weights: Sequence[float]) -> pl.Expr:
    """A categorical draw: values[i] with probability weights[i] / sum(weights)."""
    total = sum(weights)
    chain = None
    acc = 0.0
    for value, weight in zip(values[:-1], weights[:-1], strict=True):
        acc += weight / total
        chain = (pl.when(uniform < acc) if chain is None else chain.when(uniform < acc)).then(pl.lit(value))
    last = pl.lit(values[-1])
    return last if chain is None else chain.otherwise(last)


def _money(fen: pl.Expr) -> pl.Expr:
    """Integer fen → Decimal(12, 2) yuan (exact)."""
    return _decimal(fen, 12)


def _decimal(hundredths: pl.Expr, precision: int) -> pl.Expr:
    return (hundredths.cast(pl.Decimal(38, 2)) / 100).cast(pl.Decimal(precision, 2))
