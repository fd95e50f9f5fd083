"""A hand-written polars version of the Jiangsu 2020 policy, as of one date in 2020 (the baseline).

What an engineer would write by hand from `policy/jiangsu-2020.md` for as_of in 2020 with the
parameters of `rules/` (exact integer money in fen, Kleene nulls): the yardstick the compiled
columnar path is measured against. It produces the same columns as `columnar.compile_frame`
(level, has_<program>, fen_<program>, total_fen), so the benchmark also checks both agree.

Input: the internal representation (money and rank as scaled Int64, booleans without nulls,
stage and city_code as pl.Enum or strings).
"""

from __future__ import annotations

import polars as pl

STAGES = ["preschool", "primary", "junior", "senior_high", "vocational", "undergraduate", "master", "doctor"]
CITIES = [
    "320100",
    "320200",
    "320300",
    "320400",
    "320500",
    "320600",
    "320700",
    "320800",
    "320900",
    "321000",
    "321100",
    "321200",
    "321300",
]
MONTHLY_FEN = {
    "320100": 90000,
    "320200": 90000,
    "320300": 65000,
    "320400": 90000,
    "320500": 90000,
    "320600": 75000,
    "320700": 65000,
    "320800": 65000,
    "320900": 65000,
    "321000": 75000,
    "321100": 90000,
    "321200": 75000,
    "321300": 65000,
}
PROGRAMS = [
    "preschool_aid",
    "compulsory_living_subsidy",
    "senior_high_fee_waiver",
    "senior_high_grant",
    "covid_hardship_subsidy",
    "graduate_grant",
    "graduate_national_scholarship",
    "student_loan",
    "undergrad_grant",
    "undergrad_inspirational_scholarship",
    "undergrad_national_scholarship",
    "vocational_tuition_waiver",
    "vocational_grant",
]
COUNTED = [p for p in PROGRAMS if p != "student_loan"]


def _threshold(multiple_tenths: int) -> dict[str, int]:
    """income < m × line (line = monthly × 12, in fen) ⟺ income < ceil(m × line): integer thresholds."""
    return {c: -(-(v * 12 * multiple_tenths) // 10) for c, v in MONTHLY_FEN.items()}


def handwritten(frame: pl.LazyFrame | pl.DataFrame) -> pl.DataFrame:
    c = pl.col
    lf = frame.lazy().with_columns(
        c("stage").cast(pl.Utf8).cast(pl.Enum(STAGES)).alias("_stage"),
        c("city_code").cast(pl.Utf8).cast(pl.Enum(CITIES)).alias("_city"),
    )
    lf = lf.with_columns(
        *(
            c("_city").replace_strict(_threshold(m), default=None, return_dtype=pl.Int64).alias(f"_t{m}")
            for m in (15, 25, 35)
        )
    )
    inc = c("per_capita_income")
    low, mid, high = inc < c("_t15"), inc < c("_t25"), inc < c("_t35")
    special = (
        c("registered_poor")
        | c("subsistence_allowance")
        | c("extreme_poverty_support")
        | c("orphan")
        | c("de_facto_orphan")
        | c("martyr_child")
        | (c("disabled") & (c("disability_grade") <= 2))
    )
    difficult = (
        c("poverty_monitored")
        | c("disabled")
        | c("disabled_parent")
        | low
        | ((c("major_illness") | c("disaster")) & mid)
        | (c("covid_impact") & low)
    )
    general = (
        mid
        | c("major_illness")
        | c("disaster")
        | c("covid_impact")
        | ((c("unemployed_parent") | c("single_parent")) & high)
    )
    lf = lf.with_columns(
        pl.when(special)
        .then(3)
        .when(difficult)
        .then(2)
        .when(general)
        .then(1)
        .otherwise(0)
        .cast(pl.Int8)
        .alias("_lv")
    )
    lv, stage, grade, rank, fee = c("_lv"), c("_stage"), c("grade"), c("academic_rank_pct"), c("tuition_fee")
    aided = lv >= 1
    na = pl.lit(None, dtype=pl.Int64)

    def lit(yuan: int) -> pl.Expr:
        return pl.lit(yuan * 100, dtype=pl.Int64)

    has = {
        "preschool_aid": (stage == "preschool") & c("inclusive_kindergarten") & aided,
        "compulsory_living_subsidy": stage.is_in(["primary", "junior"]) & aided,
        "senior_high_fee_waiver": (stage == "senior_high")
        & (c("registered_poor") | c("subsistence_allowance") | c("extreme_poverty_support") | c("disabled")),
        "senior_high_grant": (stage == "senior_high") & aided,
        "covid_hardship_subsidy": c("covid_infected_family"),
        "graduate_grant": stage.is_in(["master", "doctor"]) & ~c("salaried"),
        "graduate_national_scholarship": (stage.is_in(["master", "doctor"]) & (rank <= 200)).fill_null(False),
        "student_loan": stage.is_in(["undergraduate", "master", "doctor"]) & aided,
        "undergrad_grant": (stage == "undergraduate") & (aided | c("retired_soldier")),
        "undergrad_inspirational_scholarship": (
            (stage == "undergraduate") & (grade >= 2) & aided & (rank <= 3000)
        ).fill_null(False),
        "undergrad_national_scholarship": (
            (stage == "undergraduate") & (grade >= 2) & (rank <= 200)
        ).fill_null(False),
        "vocational_tuition_waiver": (stage == "vocational") & (grade <= 3) & ~c("arts_performance_major"),
        "vocational_grant": (stage == "vocational") & (grade <= 2) & (c("agri_major") | aided),
    }
    fen = {
        "preschool_aid": lit(1000),
        "compulsory_living_subsidy": pl.when(stage == "primary")
        .then(pl.when(c("subsistence_allowance")).then(lit(1500)).otherwise(lit(1000)))
        .otherwise(pl.when(c("subsistence_allowance")).then(lit(2000)).otherwise(lit(1250))),
        "senior_high_fee_waiver": fee,
        "senior_high_grant": pl.when(lv == 3)
        .then(lit(3000))
        .when(lv == 2)
        .then(lit(2000))
        .otherwise(lit(1000)),
        "covid_hardship_subsidy": lit(1000),
        "graduate_grant": pl.when(stage == "master")
        .then(lit(6000))
        .when(c("central_university"))
        .then(lit(15000))
        .otherwise(lit(13000)),
        "graduate_national_scholarship": pl.when(stage == "master").then(lit(20000)).otherwise(lit(30000)),
        "student_loan": pl.when(stage == "undergraduate").then(lit(8000)).otherwise(lit(12000)),
        "undergrad_grant": pl.when(c("retired_soldier"))
        .then(lit(3300))
        .when(lv == 3)
        .then(lit(4400))
        .when(lv == 2)
        .then(lit(3300))
        .otherwise(lit(2200)),
        "undergrad_inspirational_scholarship": lit(5000),
        "undergrad_national_scholarship": lit(8000),
        "vocational_tuition_waiver": fee,
        "vocational_grant": lit(2000),
    }
    lf = lf.with_columns(*(has[p].alias(f"has_{p}") for p in PROGRAMS))
    lf = lf.with_columns(
        (c("has_undergrad_inspirational_scholarship") & ~c("has_undergrad_national_scholarship")).alias(
            "has_undergrad_inspirational_scholarship"
        )
    )
    lf = lf.with_columns(
        lv.replace_strict(
            {0: "none", 1: "general", 2: "difficult", 3: "special"}, return_dtype=pl.Utf8
        ).alias("level"),
        *(pl.when(c(f"has_{p}")).then(fen[p]).otherwise(na).alias(f"fen_{p}") for p in PROGRAMS),
    )
    lf = lf.with_columns(
        pl.sum_horizontal([c(f"fen_{p}") for p in COUNTED]).cast(pl.Int64).alias("total_fen")
    )
    return lf.drop(["_stage", "_city", "_t15", "_t25", "_t35", "_lv"]).collect()
