"""Hypothesis feeds the loaders junk: agency batches, rule files, roster imports and `aid evaluate` rows.

Each must answer with a clear error that names where the problem is (a field, a record index, file:line,
a row) and never crash; a batch or import refused as a whole leaves the database as it was.
"""

from __future__ import annotations

import io
import json
import string
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from aidservice.engine import RulesError, RuleSet, load_rules
from aidservice.engine.batch import evaluate_file
from aidservice.engine.batch_read import BatchInputError
from aidservice.engine.loader import load_texts, rule_files
from aidservice.errors import PROBLEM_MIMETYPE
from aidservice.extensions import db
from aidservice.models import AgencyRecord, AuditEvent, Determination, FeedBatch, Guardian, Student
from tests.conftest import RULES_DIR
from tests.world.factories import bearer, id_number
from tests.world.feeds import person
from tests.world.vocabulary import agency_statuses

FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
WRITTEN_BY_FEEDS = (FeedBatch, AgencyRecord, Determination, AuditEvent)
WRITTEN_BY_IMPORTS = (Student, Guardian, Determination, AuditEvent)

# ------------------------------------------------------------------------------------------ building blocks

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
"""Any JSON value, nested junk included."""

NASTY_TEXT = st.one_of(
    st.text(max_size=60),
    st.text(
        alphabet=st.characters(codec="utf-8"), max_size=60
    ),  # NUL, surrogates excluded by the codec, emoji
    st.sampled_from(["", " ", "\x00", "张三\x00", "😀" * 30, "a" * 5000, "\u202e", "'; DROP TABLE x; --"]),
)


def _valid_number(seed: int) -> str:
    return person(seed) if seed % 2 else id_number(seed)


ID_NUMBERS = st.one_of(
    st.integers(min_value=1, max_value=999).map(_valid_number),
    st.integers(min_value=1, max_value=999).map(lambda s: _valid_number(s)[:-1] + "0"),  # checksum broken
    st.integers(min_value=1, max_value=999).map(lambda s: _valid_number(s).lower()),
    st.from_regex(r"\A[0-9]{17}[0-9Xx]\Z"),
    st.from_regex(r"\A[0-9]{15}\Z"),
    NASTY_TEXT,
    JSON_SCALARS,
)
SOURCE_STATUSES = agency_statuses()

DATES = st.one_of(
    st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)).map(date.isoformat),
    st.sampled_from(
        ["2020-02-30", "2020-13-01", "20200101", "2020-1-1", "0000-00-00", "9999-12-31", "", "today"]
    ),
    NASTY_TEXT,
    JSON_SCALARS,
)
ALL_STATUSES = sorted({s for statuses in SOURCE_STATUSES.values() for s in statuses})


def _record_fields(source: str) -> st.SearchStrategy[dict[str, Any]]:
    """A register record with each field sometimes right, sometimes wrong, sometimes missing or extra."""
    statuses = (
        st.sampled_from(SOURCE_STATUSES[source]) | st.sampled_from(ALL_STATUSES) | NASTY_TEXT | JSON_SCALARS
    )
    attributes = st.one_of(
        st.none(),
        st.fixed_dictionaries({"disability_grade": st.integers(min_value=-2, max_value=6) | JSON_SCALARS}),
        st.dictionaries(NASTY_TEXT, JSON, max_size=3),
        JSON,
    )
    return st.fixed_dictionaries(
        {},
        optional={
            "id_number": ID_NUMBERS,
            "name": NASTY_TEXT,
            "status": statuses,
            "valid_from": DATES,
            "valid_to": DATES | st.none(),
            "attributes": attributes,
            "extra": JSON,
        },
    )


def _records(source: str) -> st.SearchStrategy[list[Any]]:
    record = _record_fields(source)
    return st.lists(st.one_of(record, record, JSON), max_size=6).flatmap(
        lambda rows: (
            st.just(rows + rows[:1])  # the first record again: a duplicate within the batch
            if rows and isinstance(rows[0], dict)
            else st.just(rows)
        )
    )


def _counts(models: tuple[Any, ...]) -> dict[str, int]:
    return {
        m.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(m)) or 0 for m in models
    }


def _assert_problem(response: Any, *statuses: int) -> dict[str, Any]:
    """A refusal as documented: problem+json with the status and every problem named by its field."""
    assert response.status_code in statuses, response.get_data(as_text=True)[:2000]
    assert response.mimetype == PROBLEM_MIMETYPE
    problem = response.get_json()
    assert problem["status"] == response.status_code
    assert problem["detail"]
    if response.status_code == 422:
        assert problem["errors"], problem
        assert all(isinstance(k, str) and k and v for k, v in problem["errors"].items()), problem
    return problem


# ------------------------------------------------------------------------------------------ (a) agency batches

SOURCES = sorted(SOURCE_STATUSES)
BATCH_IDS = st.one_of(st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._:-]{0,20}\Z"), NASTY_TEXT, JSON_SCALARS)


@pytest.mark.databases
@settings(FUZZ, max_examples=20)  # each accepted batch re-determines the students it matches: the slow one
@given(data=st.data())
def test_random_batch_records_are_rejected_by_index_or_refused_whole(
    client: FlaskClient, tokens: dict[str, str], data: st.DataObject
) -> None:
    source = data.draw(st.sampled_from(SOURCES), label="source")
    records = data.draw(_records(source), label="records")
    batch_id = data.draw(BATCH_IDS, label="batch_id")
    before = _counts(WRITTEN_BY_FEEDS)
    response = client.post(
        f"/api/v1/feeds/{source}/batches",
        json={"batch_id": batch_id, "records": records},
        headers=bearer(tokens[f"client_{source}"]),
    )
    if response.status_code == 200:
        answer = response.get_json()
        rejected_indexes = {r["index"] for r in answer["rejected"]}
        assert answer["accepted"] + len(rejected_indexes) == len(records), answer
        for rejection in answer["rejected"]:  # field: as sent, even an empty key ("" is an unknown field too)
            assert 0 <= rejection["index"] < len(records) and isinstance(rejection["field"], str), rejection
            assert rejection["message"], rejection
        for index, raw in enumerate(records):
            if not isinstance(raw, dict):
                assert index in rejected_indexes
    else:
        problem = _assert_problem(response, 409, 422)
        named = {key.split(".", 1)[0] for key in problem["errors"]}  # records.3.name: unstorable text in one
        assert named <= {"batch_id", "records", "body"}, problem
        assert _counts(WRITTEN_BY_FEEDS) == before


@pytest.mark.databases
@FUZZ
@given(body=JSON)
def test_a_batch_envelope_that_is_not_one_changes_nothing(
    client: FlaskClient, tokens: dict[str, str], body: Any
) -> None:
    before = _counts(WRITTEN_BY_FEEDS)
    response = client.post(
        "/api/v1/feeds/civil_affairs/batches",
        data=json.dumps(body),
        content_type="application/json",
        headers=bearer(tokens["client_civil_affairs"]),
    )
    if response.status_code != 200:
        _assert_problem(response, 400, 409, 422)
        assert _counts(WRITTEN_BY_FEEDS) == before


# ------------------------------------------------------------------------------------------ (b) rule files


def _real_rule_texts() -> dict[str, str]:
    return {p.relative_to(RULES_DIR).as_posix(): p.read_text(encoding="utf-8") for p in rule_files(RULES_DIR)}


REAL_RULES = _real_rule_texts()
YAML_NOISE = st.sampled_from(
    [
        ":",
        "- ",
        "{",
        "}",
        "[",
        "]",
        "\n",
        "  ",
        "\t",
        "#",
        "&a",
        "*a",
        "!!python/object:os.system",
        "? ",
        "|",
        ">",
        "'",
        '"',
        "null",
        "~",
        "true",
        "1e999",
        "0x1F",
        "2020-02-30",
        "-.inf",
        "<<: *a",
        "\x00",
        "\ufeff",
    ]
)
MUTATION = st.tuples(
    st.integers(min_value=0),
    st.integers(min_value=0, max_value=40),
    st.lists(YAML_NOISE | st.text(max_size=8), max_size=4).map("".join),
)
YAML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.dates().map(date.isoformat),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(string.ascii_lowercase + "_", max_size=12), inner, max_size=4)
    ),
    max_leaves=15,
)


def _mutate(text: str, start: int, length: int, insert: str) -> str:
    """Replace `length` characters at `start` (modulo the text's length) with `insert`."""
    at = start % (len(text) + 1)
    return text[:at] + insert + text[at + length :]


def _assert_rules_error_names_file_and_line(texts: dict[str, str]) -> None:
    try:
        load_texts(texts)
    except RulesError as exc:
        assert exc.issues, "a RulesError lists its problems"
        for issue in exc.issues:
            assert issue.file and isinstance(issue.line, int) and issue.line >= 0 and issue.message
            assert str(issue).startswith(f"{issue.file}:{issue.line}: ")
            assert issue.file.split("/", 1)[-1] in texts or issue.file == "rules", issue


@FUZZ
@given(file=st.sampled_from(sorted(REAL_RULES)), mutations=st.lists(MUTATION, min_size=1, max_size=3))
def test_mutated_rule_files_load_or_name_file_line_and_reason(file: str, mutations: list[Any]) -> None:
    texts = dict(REAL_RULES)
    for start, length, insert in mutations:
        texts[file] = _mutate(texts[file], start, length, insert)
    _assert_rules_error_names_file_and_line(texts)


@FUZZ
@given(
    file=st.sampled_from([*sorted(REAL_RULES), "programs/zz_new.yaml", "zz.yaml"]),
    section=st.sampled_from(
        ["documents", "facts", "derived", "parameters", "levels", "programs", "combinations", "other"]
    ),
    content=YAML_VALUES,
    replace=st.booleans(),
)
def test_random_rule_structures_load_or_name_file_line_and_reason(
    file: str, section: str, content: Any, replace: bool
) -> None:
    import yaml

    texts = dict(REAL_RULES)
    junk = yaml.safe_dump({section: content}, allow_unicode=True)
    texts[file] = junk if replace or file not in texts else texts[file] + "\n" + junk
    _assert_rules_error_names_file_and_line(texts)


# ------------------------------------------------------------------------------------------ (c) roster imports

IMPORT_COLUMNS = [
    "student_id",
    "id_number",
    "name",
    "school_code",
    "class_name",
    "stage",
    "grade",
    "boarding",
    "rural_hukou",
    "guardian1_id_number",
    "guardian1_name",
    "guardian1_relation",
]
CELLS = st.one_of(
    NASTY_TEXT,
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
    st.dates(),
    ID_NUMBERS.filter(lambda v: not isinstance(v, float)),
    st.sampled_from(["S1", "junior", "primary", "2", "true", "否", "father", "=1+1", "@SUM(A1)"]),
)


def _csv_bytes(rows: list[list[Any]]) -> bytes:
    import csv

    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8", "surrogatepass")


def _xlsx_bytes(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append([_xlsx_cell(c) for c in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_cell(value: Any) -> Any:
    """openpyxl refuses control characters and huge numbers in cells; a spreadsheet program would too."""
    if isinstance(value, str):
        return "".join(ch for ch in value if ch >= " " or ch in "\t\n")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        return str(value)
    return value


IMPORT_FILES = st.one_of(
    st.tuples(
        st.just("students.csv"),
        st.lists(st.lists(CELLS, max_size=len(IMPORT_COLUMNS) + 2), max_size=5).map(
            lambda rows: _csv_bytes([IMPORT_COLUMNS, *rows])
        ),
    ),
    st.tuples(
        st.just("students.xlsx"),
        st.lists(st.lists(CELLS, max_size=len(IMPORT_COLUMNS) + 2), max_size=4).map(
            lambda rows: _xlsx_bytes([IMPORT_COLUMNS, *rows])
        ),
    ),
    st.tuples(st.sampled_from(["students.csv", "students.xlsx", "x.xls", ""]), st.binary(max_size=300)),
    st.tuples(
        st.just("students.csv"), st.lists(st.lists(CELLS, max_size=6), min_size=1, max_size=3).map(_csv_bytes)
    ),
    st.tuples(st.just("students.xlsx"), st.just(b"PK\x03\x04" + b"\x00" * 40)),
)


@FUZZ
@given(upload=IMPORT_FILES, partial=st.booleans())
def test_junk_roster_imports_are_refused_by_row_and_column(
    client: FlaskClient, tokens: dict[str, str], upload: tuple[str, bytes], partial: bool
) -> None:
    filename, content = upload
    before = _counts(WRITTEN_BY_IMPORTS)
    response = client.post(
        f"/api/v1/students/import?partial={str(partial).lower()}",
        data={"file": (io.BytesIO(content), filename)},
        content_type="multipart/form-data",
        headers=bearer(tokens["officer_S1"]),
    )
    if response.status_code == 200:
        answer = response.get_json()
        assert all(e["row"] >= 1 and e["field"] and e["message"] for e in answer["rejected"]), answer
        if not partial:
            assert answer["rejected"] == []
    else:
        _assert_problem(response, 413, 422)
        assert _counts(WRITTEN_BY_IMPORTS) == before


# ------------------------------------------------------------------------------------------ (d) aid evaluate rows


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    return load_rules(RULES_DIR)


FACT_NAMES = [
    "student_id",
    "stage",
    "grade",
    "orphan",
    "per_capita_income",
    "household_size",
    "city_code",
    "registered_poor",
    "disability_grade",
    "unknown_fact",
]
FACT_ROWS = st.lists(
    st.dictionaries(st.sampled_from(FACT_NAMES) | st.text(max_size=8), JSON_SCALARS | JSON, max_size=8),
    min_size=1,
    max_size=5,
)


@FUZZ
@given(rows=FACT_ROWS, as_csv=st.booleans())
def test_junk_evaluate_rows_stop_with_row_and_reason(
    ruleset: RuleSet, tmp_path_factory: pytest.TempPathFactory, rows: list[dict[str, Any]], as_csv: bool
) -> None:
    folder = tmp_path_factory.mktemp("evaluate")
    source = folder / ("in.csv" if as_csv else "in.jsonl")
    _write_rows(source, rows, as_csv)
    output = folder / "out.jsonl"
    try:
        evaluate_file(ruleset, source, output, as_of=date(2020, 9, 1), progress=False)
    except BatchInputError as exc:
        assert str(exc)
        assert not output.exists(), "a refused input writes no output"
    else:
        assert len(output.read_text(encoding="utf-8").splitlines()) == len(rows)


def _write_rows(path: Path, rows: list[dict[str, Any]], as_csv: bool) -> None:
    if not as_csv:
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        return
    import csv

    columns = sorted({k for r in rows for k in r})
    with path.open("w", encoding="utf-8", newline="", errors="surrogatepass") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for r in rows:
            writer.writerow(
                [
                    ""
                    if r.get(c) is None
                    else json.dumps(r[c])
                    if isinstance(r.get(c), list | dict)
                    else r[c]
                    for c in columns
                ]
            )
