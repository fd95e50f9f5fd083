"""The import's columns, cells, encodings and its one answer: headers in Chinese or English, the rules' labels,
UTF-8 (BOM or not) and GBK/GB18030 CSV, and every problem collected in Chinese, bounded, with the total."""

from __future__ import annotations

import pytest

from aidservice.engine import load_rules
from aidservice.services.errors import PayloadTooLarge, ValidationFailed
from aidservice.services.roster import cells
from aidservice.services.roster.import_columns import columns, header_names, relation_value
from aidservice.services.roster.import_messages import MAX_REPORTED, chinese, labeller, refusal
from aidservice.services.roster.roster_common import enum_values
from aidservice.services.roster.roster_upsert import RowError
from aidservice.services.sheets.sheet_limits import SheetLimits
from aidservice.services.sheets.spreadsheets import decode_csv, read_table
from config import REPO_ROOT

RULES = load_rules(REPO_ROOT / "rules")
FACTS = RULES.facts
NAMES = header_names(FACTS)
CHINESE_CSV = "学号,身份证号,姓名,学段,年级,寄宿生\r\nC1,320102200803010011,张三,初中,1,是\r\n"


def test_the_columns_start_as_officers_expect_and_take_headers_from_the_rules() -> None:
    headers = [c.header for c in columns(FACTS)]
    assert headers[:7] == [
        "学号",
        "身份证号",
        "姓名",
        "学校代码",
        "班级",
        FACTS["stage"].label,
        FACTS["grade"].label,
    ]
    assert "监护人1与学生关系" in headers and "监护人2身份证号" in headers
    stage = next(c for c in columns(FACTS) if c.key == "stage")
    assert stage.choices == tuple(FACTS["stage"].label_of(v) for v in FACTS["stage"].values)
    assert next(c for c in columns(FACTS) if c.key == "boarding").choices == ("是", "否")


@pytest.mark.parametrize(
    ("cell", "key"),
    [
        ("学号", "student_id"),
        ("student_id", "student_id"),
        (" Stage ", "stage"),
        ("学段", "stage"),
        ("涉农专业（中职）", "agri_major"),
        ("涉农专业", "agri_major"),
        ("监护人2与学生关系", "guardian2_relation"),
        ("GUARDIAN3_NAME", "guardian3_name"),
        ("学籍状态", "enrolment_state"),
        ("备注", None),
    ],
)
def test_a_header_cell_maps_to_its_payload_key_in_either_language(cell: str, key: str | None) -> None:
    assert NAMES.key_of(cell) == key


def test_each_key_has_its_chinese_header_for_messages() -> None:
    assert NAMES.label("guardian2_name") == "监护人2姓名"
    assert NAMES.label("id_number") == "身份证号"


@pytest.mark.parametrize(
    ("cell", "value"),
    [("是", True), ("否", False), ("有", True), ("无", False), ("yes", True), (1, True), ("也许", "也许")],
)
def test_yes_no_cells_take_chinese_labels(cell: object, value: object) -> None:
    assert cells.flag(cell) == value


def test_enum_cells_take_the_rules_labels_and_relations_their_chinese_names() -> None:
    row = enum_values(FACTS, {"stage": "小学", "enrolment_state": "在读", "east_west_origin": "陕西"})
    assert row == {"stage": "primary", "enrolment_state": "enrolled", "east_west_origin": "shaanxi"}
    assert enum_values(FACTS, {"stage": "初三"})["stage"] == "初三"  # left for the schema to refuse
    assert relation_value("母亲") == "mother" and relation_value("舅舅") == "舅舅"


@pytest.mark.parametrize(
    "data",
    [
        CHINESE_CSV.encode("utf-8"),
        b"\xef\xbb\xbf" + CHINESE_CSV.encode("utf-8"),
        CHINESE_CSV.encode("gbk"),
        CHINESE_CSV.encode("gb18030"),
    ],
    ids=["utf-8", "utf-8-bom", "gbk", "gb18030"],
)
def test_csv_in_utf8_or_gbk_reads_the_same(data: bytes) -> None:
    assert read_table("roster.csv", data, 10) == [
        ["学号", "身份证号", "姓名", "学段", "年级", "寄宿生"],
        ["C1", "320102200803010011", "张三", "初中", "1", "是"],
    ]


def test_gb18030_only_characters_are_read() -> None:
    text = "姓名\r\n㐀䶮\r\n"  # CJK extension A: in GB18030, not in GBK
    assert read_table("r.csv", text.encode("gb18030"), 10)[1] == ["㐀䶮"]


@pytest.mark.parametrize(
    "data",
    [b"\xff\xfe\x00\x01\x02garbage\x80\xff", b"ok,\x00\x01\xb0\xa1\x02\r\n"],
    ids=["bytes", "controls"],
)
def test_garbage_is_refused_with_a_clear_chinese_message(data: bytes) -> None:
    with pytest.raises(ValidationFailed) as refused:
        read_table("roster.csv", data, 10)
    assert "GBK" in refused.value.errors["file"][0] and "无法" in refused.value.errors["file"][0]


def test_the_size_is_bounded_before_decoding() -> None:
    with pytest.raises(PayloadTooLarge):
        decode_csv(b"a" * 101, "r.csv", SheetLimits(max_csv_bytes=100))


def test_english_messages_become_chinese_with_the_rules_labels() -> None:
    label = labeller(FACTS)
    assert chinese("'初三' is not one of primary, junior", "stage", label).startswith(
        "“初三”不是允许的值（可选：学前教育、小学、初中"
    )
    assert chinese("the school does not offer primary (it offers junior)", "stage", label) == (
        "该学校没有小学学段（开设：初中）"
    )
    assert chinese("Missing data for required field.", "guardian1_name", label) == "必填，不能为空"
    assert chinese("repeats row 3", "student_id", label) == "学号与第 3 行重复"
    assert chinese("已是中文", "name", label) == "已是中文"


def test_the_refusal_lists_every_problem_up_to_the_bound_with_the_total() -> None:
    errors = [RowError(1, "grade", "缺少此必填列")] + [
        RowError(n, "stage", "“x”不是允许的值") for n in range(2, MAX_REPORTED + 50)
    ]
    refused = refusal(errors, MAX_REPORTED + 48, NAMES)
    assert refused.extra["total_errors"] == len(errors)
    rows = refused.extra["rows"]
    assert isinstance(rows, list) and len(rows) == MAX_REPORTED
    assert rows[0] == {"row": 1, "field": "grade", "column": "年级", "message": "缺少此必填列"}
    assert rows[1]["column"] == "学段"
    assert "表头" in refused.detail and "未写入任何数据" in refused.detail
