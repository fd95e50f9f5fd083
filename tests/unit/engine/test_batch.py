"""Batch evaluation of files: formats in and out, validation by row, skipping invalid rows, atomic output."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from aidservice.demo.facts import generate_facts
from aidservice.engine import RuleSet, batch, batch_write, load_rules
from aidservice.engine.batch import evaluate_file
from aidservice.engine.batch_read import BatchInputError
from aidservice.engine.columnar import evaluate_rows

REPO = Path(__file__).resolve().parents[3]
AS_OF = date(2020, 9, 1)


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules(REPO / "rules")


@pytest.fixture(scope="module")
def students() -> pl.DataFrame:
    return generate_facts(600, seed=3)


def write_input(frame: pl.DataFrame, path: Path) -> Path:
    if path.suffix == ".parquet":
        frame.write_parquet(path)
    elif path.suffix == ".csv":
        frame.write_csv(path)
    else:
        frame.write_ndjson(path)
    return path


def read_output(path: Path) -> dict[str, tuple[str, list[tuple[str, Decimal | None]], Decimal]]:
    """student_id → (level, [(program, amount)], total) from any output format, money as Decimal."""

    def money(value: object) -> Decimal | None:
        return None if value is None else Decimal(str(value))

    if path.suffix == ".parquet":
        rows = pl.read_parquet(path).to_dicts()
    elif path.suffix == ".csv":
        rows = [
            dict(r, awards=json.loads(r["awards"])) for r in pl.read_csv(path, infer_schema=False).to_dicts()
        ]
    else:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return {
        r["student_id"]: (
            r["level"],
            [(a["program"], money(a["amount"])) for a in r["awards"]],
            money(r["total"]),
        )  # type: ignore[misc]
        for r in rows
    }


def read_missing(path: Path) -> dict[str, list[str]]:
    """student_id → the `missing` names, from any output format (CSV: `;`-joined, empty when none)."""
    if path.suffix == ".parquet":
        rows = pl.read_parquet(path).to_dicts()
    elif path.suffix == ".csv":
        rows = [
            dict(r, missing=r["missing"].split(";") if r["missing"] else [])
            for r in pl.read_csv(path, infer_schema=False).to_dicts()
        ]
    else:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return {r["student_id"]: r["missing"] for r in rows}


def expected_missing(rules: RuleSet, frame: pl.DataFrame) -> dict[str, list[str]]:
    """student_id → `Result.missing` of the compiled per-record path, for the same students."""
    out = {}
    for row in frame.to_dicts():
        sid = row.pop("student_id")
        facts = rules.validate_facts({k: v for k, v in row.items() if v is not None})
        out[sid] = rules.evaluate(facts, AS_OF).missing
    return out


def expected(
    rules: RuleSet, frame: pl.DataFrame
) -> dict[str, tuple[str, list[tuple[str, Decimal | None]], Decimal]]:
    """The same students through validate_facts (the API's path) and the columnar evaluator."""
    order = [p.id for p in rules.rules.programs]
    facts = []
    for row in frame.to_dicts():
        row.pop("student_id")
        facts.append(rules.validate_facts({k: v for k, v in row.items() if v is not None}))
    out = {}
    for sid, got in zip(frame["student_id"], evaluate_rows(rules.rules, facts, AS_OF), strict=True):
        awards = sorted(got["awards"].items(), key=lambda item: order.index(item[0]))
        out[sid] = (got["level"], awards, got["total"])
    return out


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


# ------------------------------------------------------------------------------------ formats


@pytest.mark.parametrize("source", [".parquet", ".csv", ".jsonl"])
@pytest.mark.parametrize("target", [".parquet", ".csv", ".jsonl"])
def test_every_input_format_gives_the_same_output_in_every_output_format(
    rules: RuleSet, students: pl.DataFrame, tmp_path: Path, source: str, target: str
) -> None:
    src = write_input(students, tmp_path / f"in{source}")
    out = tmp_path / f"out{target}"
    summary = evaluate_file(rules, src, out, as_of=AS_OF, progress=False)
    missing = expected_missing(rules, students)
    with_missing = sum(1 for names in missing.values() if names)
    assert 0 < with_missing < 600  # the generated province has students with and without unknowns
    assert summary == batch.BatchSummary(rows=600, written=600, invalid=0, missing=with_missing)
    assert read_output(out) == expected(rules, students)
    assert read_missing(out) == missing
    assert leftovers(tmp_path) == []


def test_money_round_trips_exactly_through_parquet(rules: RuleSet, tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "student_id": ["a", "b", "c"],
            "stage": ["vocational", "senior_high", "vocational"],
            "grade": [1, 2, 1],
            "registered_poor": [False, True, False],
            "agri_major": [True, False, False],
            "tuition_fee": [Decimal("2345.67"), Decimal("0.01"), Decimal("99999999.99")],
        },
        schema_overrides={"tuition_fee": pl.Decimal(12, 2)},
    )
    out = tmp_path / "out.parquet"
    evaluate_file(rules, write_input(frame, tmp_path / "in.parquet"), out, as_of=AS_OF, progress=False)
    written = pl.read_parquet(out)
    assert written.schema["total"] == pl.Decimal(12, 2)
    assert written.schema["awards"] == pl.List(pl.Struct({"program": pl.String, "amount": pl.Decimal(12, 2)}))
    got = read_output(out)
    assert got["a"][1] == [
        ("vocational_tuition_waiver", Decimal("2345.67")),
        ("vocational_grant", Decimal("2000.00")),
    ]
    assert got["b"][1] == [
        ("senior_high_fee_waiver", Decimal("0.01")),
        ("senior_high_grant", Decimal("3000.00")),
    ]
    assert got["c"] == (
        "none",
        [("vocational_tuition_waiver", Decimal("99999999.99"))],
        Decimal("99999999.99"),
    )


def test_jsonl_output_has_money_as_strings_and_null_for_an_unknown_amount(
    rules: RuleSet, tmp_path: Path
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(
        '{"student_id": "x1", "stage": "senior_high", "grade": 1, "registered_poor": true}\n',
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    evaluate_file(rules, src, out, as_of=AS_OF, progress=False)
    line = json.loads(out.read_text(encoding="utf-8"))
    assert line == {
        "student_id": "x1",
        "level": "special",
        "awards": [
            {"program": "senior_high_fee_waiver", "amount": None},
            {"program": "senior_high_grant", "amount": "3000.00"},
        ],
        "total": "3000.00",
        "missing": ["city_code", "per_capita_income", "tuition_fee"],  # the fee waiver's amount: tuition_fee
    }


def test_csv_accepts_text_booleans_blank_unknowns_and_spaces(rules: RuleSet, tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text(
        "student_id,stage,grade,city_code,registered_poor,per_capita_income,tuition_fee\n"
        "s1, junior ,2,320100,是,,\n"
        "s2,senior_high,1,320300,no,7800.5,1500\n"
        "s3,senior_high,1,,FALSE,100,1500.000\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    assert evaluate_file(rules, src, out, as_of=AS_OF, progress=False).written == 3
    got = read_output(out)
    assert got["s1"] == ("special", [("compulsory_living_subsidy", Decimal("1250.00"))], Decimal("1250.00"))
    assert got["s2"][0] == "difficult"  # 7800.50 < 1.5 × 7800
    assert got["s3"][0] == "none"  # city unknown: no income clause fires


# ----------------------------------------------------------------------------------- invalid


def test_invalid_row_stops_the_run_and_writes_nothing(rules: RuleSet, tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("student_id,stage,grade\nok1,junior,1\nbad,junior,x\nbad2,college,1\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    with pytest.raises(BatchInputError) as caught:
        evaluate_file(rules, src, out, as_of=AS_OF, progress=False)
    assert str(caught.value) == "row 2 (student_id bad): grade: must be an integer"
    assert (caught.value.row, caught.value.field) == (2, "grade")
    assert not out.exists()
    assert not out.with_name("out.jsonl.errors.jsonl").exists()
    assert leftovers(tmp_path) == []


def test_skip_invalid_writes_the_valid_rows_and_an_errors_file(rules: RuleSet, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    rows = [
        {"student_id": "a", "stage": "junior", "grade": 1, "orphan": True},
        {"student_id": "b", "stage": "junior", "grade": 0, "per_capita_income": "1.234"},
        {"student_id": "c", "grade": 2},
        {"student_id": "d", "stage": "doctor", "grade": 1},
    ]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out.csv"
    summary = evaluate_file(rules, src, out, as_of=AS_OF, skip_invalid=True, progress=False)
    assert summary == batch.BatchSummary(rows=4, written=2, invalid=2, missing=2)
    assert sorted(read_output(out)) == ["a", "d"]
    assert read_missing(out)["a"] == ["city_code", "per_capita_income"]
    errors = [
        json.loads(line)
        for line in (tmp_path / "out.csv.errors.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert errors == [
        {"row": 2, "student_id": "b", "field": "grade", "message": "must be at least 1"},
        {
            "row": 2,
            "student_id": "b",
            "field": "per_capita_income",
            "message": "has more than two decimal places (fen)",
        },
        {"row": 3, "student_id": "c", "field": "stage", "message": "is required"},
    ]


def test_errors_file_goes_where_asked_and_is_empty_when_all_rows_are_valid(
    rules: RuleSet, tmp_path: Path
) -> None:
    src = tmp_path / "in.csv"
    src.write_text("student_id,stage,grade\na,junior,1\n", encoding="utf-8")
    errors = tmp_path / "problems.jsonl"
    evaluate_file(
        rules, src, tmp_path / "out.jsonl", as_of=AS_OF, skip_invalid=True, errors_path=errors, progress=False
    )
    assert errors.read_text(encoding="utf-8") == ""


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        (
            "stage",
            "college",
            "'college' is not one of preschool, primary, junior, senior_high, vocational, undergraduate, master, doctor",
        ),
        ("stage", "", "is required"),
        ("grade", "13", "must be at most 12"),
        ("grade", "1.5", "must be an integer"),
        (
            "city_code",
            "320000",
            "'320000' is not one of 320100, 320200, 320300, 320400, 320500, 320600, 320700, 320800, 320900, 321000, 321100, 321200, 321300",
        ),
        ("orphan", "maybe", "must be true or false"),
        ("per_capita_income", "-1", "must be at least 0"),
        ("per_capita_income", "12.345", "has more than two decimal places (fen)"),
        ("per_capita_income", "ten", "must be a number"),
        ("per_capita_income", "12345678901", "must be less than 10000000000"),
        ("academic_rank_pct", "100.01", "must be at most 100"),
        ("disability_grade", "5", "must be at most 4"),
    ],
)
def test_bad_values_are_reported_with_row_field_and_reason(
    rules: RuleSet, tmp_path: Path, column: str, value: str, message: str
) -> None:
    frame = pl.DataFrame({"student_id": ["a", "b"], "stage": ["junior", "junior"], "grade": ["1", "1"]})
    frame = frame.with_columns(
        pl.Series(column, ["", value])
        if column not in frame.columns
        else pl.Series(column, [frame[column][0], value])
    )
    src = write_input(frame, tmp_path / "in.csv")
    with pytest.raises(BatchInputError) as caught:
        evaluate_file(rules, src, tmp_path / "out.jsonl", as_of=AS_OF, progress=False)
    assert str(caught.value) == f"row 2 (student_id b): {column}: {message}"


@pytest.mark.parametrize(
    ("values", "valid"),
    [([Decimal("12.340")], True), ([Decimal("12.345")], False)],
)
def test_money_with_more_than_two_decimals_is_invalid_in_parquet_too(
    rules: RuleSet, tmp_path: Path, values: list, valid: bool
) -> None:
    frame = pl.DataFrame(
        {"student_id": ["a"], "stage": ["junior"], "grade": [1], "per_capita_income": values},
        schema_overrides={"per_capita_income": pl.Decimal(12, 3)},
    )
    src = write_input(frame, tmp_path / "in.parquet")
    out = tmp_path / "out.parquet"
    if valid:
        evaluate_file(rules, src, out, as_of=AS_OF, progress=False)
        assert out.exists()
    else:
        with pytest.raises(
            BatchInputError,
            match=r"row 1 \(student_id a\): per_capita_income: has more than two decimal places",
        ):
            evaluate_file(rules, src, out, as_of=AS_OF, progress=False)


def test_unknown_column_is_an_error_naming_it(rules: RuleSet, tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("student_id,stage,grade,shoe_size\na,junior,1,42\n", encoding="utf-8")
    with pytest.raises(BatchInputError, match="unknown column 'shoe_size'"):
        evaluate_file(rules, src, tmp_path / "out.jsonl", as_of=AS_OF, skip_invalid=True, progress=False)
    assert not (tmp_path / "out.jsonl").exists()


def test_unknown_key_late_in_a_jsonl_file_is_found(rules: RuleSet, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    lines = [json.dumps({"student_id": f"s{i}", "stage": "junior", "grade": 1}) for i in range(300)]
    lines.append(
        json.dumps({"student_id": "late", "stage": "junior", "grade": 1, "favourite_colour": "blue"})
    )
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(BatchInputError, match="unknown column 'favourite_colour'"):
        evaluate_file(rules, src, tmp_path / "out.jsonl", as_of=AS_OF, progress=False)


def test_malformed_jsonl_line_is_named(rules: RuleSet, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(
        '{"student_id": "a", "stage": "junior", "grade": 1}\n{"student_id": "b", "stage": \n',
        encoding="utf-8",
    )
    with pytest.raises(BatchInputError, match=r"^row 2: not valid JSON"):
        evaluate_file(rules, src, tmp_path / "out.jsonl", as_of=AS_OF, progress=False)


def test_unsupported_extension_is_refused(rules: RuleSet, tmp_path: Path) -> None:
    with pytest.raises(BatchInputError, match="unsupported extension"):
        evaluate_file(rules, tmp_path / "in.xlsx", tmp_path / "out.jsonl", as_of=AS_OF, progress=False)


# ------------------------------------------------------------------------------------ atomic


@pytest.mark.parametrize("failure", [RuntimeError("disk full"), KeyboardInterrupt()])
@pytest.mark.parametrize("target", ["out.parquet", "out.jsonl", "out.csv"])
def test_output_appears_complete_or_not_at_all_when_the_run_fails_midway(
    rules: RuleSet,
    students: pl.DataFrame,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failure: BaseException,
    target: str,
) -> None:
    src = write_input(students, tmp_path / "in.parquet")
    out = tmp_path / target
    out.write_text("previous complete output\n", encoding="utf-8")
    real_write = batch_write._Writer.write
    calls = {"n": 0}

    def failing_write(self: batch_write._Writer, table: object) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise failure
        real_write(self, table)

    monkeypatch.setattr(batch_write._Writer, "write", failing_write)
    with pytest.raises(type(failure)):
        evaluate_file(rules, src, out, as_of=AS_OF, progress=False, chunk_rows=100, skip_invalid=True)
    assert calls["n"] == 3
    assert out.read_text(encoding="utf-8") == "previous complete output\n"
    assert not (tmp_path / f"{target}.errors.jsonl").exists()
    assert leftovers(tmp_path) == []


def test_chunked_run_writes_every_row_once(rules: RuleSet, students: pl.DataFrame, tmp_path: Path) -> None:
    src = write_input(students, tmp_path / "in.parquet")
    out = tmp_path / "out.jsonl"
    evaluate_file(rules, src, out, as_of=AS_OF, progress=False, chunk_rows=64)
    assert list(read_output(out)) == students["student_id"].to_list()
    assert read_output(out) == expected(rules, students)
    assert read_missing(out) == expected_missing(rules, students)


@pytest.mark.parametrize(("name", "text"), [("in.csv", "student_id,stage,grade\n"), ("in.jsonl", "")])
def test_a_file_without_students_gives_an_empty_output(
    rules: RuleSet, tmp_path: Path, name: str, text: str
) -> None:
    src = tmp_path / name
    src.write_text(text, encoding="utf-8")
    out = tmp_path / "out.parquet"
    assert evaluate_file(rules, src, out, as_of=AS_OF, progress=False) == batch.BatchSummary(
        rows=0, written=0, invalid=0
    )
    assert pl.read_parquet(out).height == 0
