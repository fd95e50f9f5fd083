"""Downloads speak Chinese too: every list and report file (roster, applications, approved list, a notice, each
report kind, as CSV and as XLSX) has Chinese headers and names codes by their labels, with no machine timestamp."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator

from flask.testing import FlaskClient
from openpyxl import load_workbook

from aidservice.services import reports
from tests.web.conftest import Clock
from tests.web.test_applications import act, created
from tests.web.test_no_raw_codes import ISO_MOMENT, offences, vocabulary_codes
from tests.world import web as w

HAN = re.compile(r"[\u4e00-\u9fff]")


def tables(data: bytes, fmt: str) -> Iterator[tuple[str, list[list[str]]]]:
    """(sheet name, rows as text) of a CSV or XLSX file."""
    if fmt == "csv":
        assert data.startswith(b"\xef\xbb\xbf")
        yield "csv", list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
        return
    book = load_workbook(io.BytesIO(data), read_only=True)
    for sheet in book.worksheets:
        rows = [["" if c is None else str(c) for c in row] for row in sheet.iter_rows(values_only=True)]
        yield sheet.title, rows


def problems(data: bytes, fmt: str, codes: set[str]) -> list[str]:
    found: list[str] = []
    for title, rows in tables(data, fmt):
        if not rows:
            continue
        header = [h for h in rows[0] if h]
        found += [f"{title}: header {h!r} is not Chinese" for h in header if not HAN.search(h)]
        for row in rows:
            for cell in row:
                bad = offences(cell, codes)
                found += [f"{title}: {cell!r} ({', '.join(bad)})"] if bad else []
    return found


def downloads(client: FlaskClient, notice_url: str) -> list[str]:
    urls = ["/students?format={fmt}", "/applications?format={fmt}", "/applications/approved?format={fmt}"]
    return [*urls, notice_url + "/download?format={fmt}"]


def test_every_list_download_names_codes_by_their_labels(
    as_user: Callable[[str], FlaskClient], world: w.World, clock: Clock
) -> None:
    codes = vocabulary_codes()
    client = as_user("officer1")
    application_id = created(client)
    assert act(client, application_id, "review", level="special", note="评议小组一致同意").status_code == 302
    assert act(client, application_id, "publish_notice").status_code == 302
    page = client.get(f"/applications/{application_id}").get_data(as_text=True)
    notice_url = re.search(r'href="(/schools/[^"]+/notices/\d+)"', page).group(1)  # type: ignore[union-attr]
    clock.today = w.AFTER_NOTICE
    assert act(client, application_id, "approve", note="公示无异议").status_code == 302
    created(client, "S1-002")  # a second application, still submitted: its proposed level
    for template in downloads(client, notice_url):
        for fmt in ("csv", "xlsx"):
            url = template.format(fmt=fmt)
            response = client.get(url)
            assert response.status_code == 200, url
            assert not problems(response.data, fmt, codes), (url, problems(response.data, fmt, codes))


def test_the_application_list_marks_a_level_before_approval_as_proposed(
    as_user: Callable[[str], FlaskClient], world: w.World, clock: Clock
) -> None:
    client = as_user("officer1")
    approved = created(client)
    assert act(client, approved, "review", level="special", note="评议小组一致同意").status_code == 302
    assert act(client, approved, "publish_notice").status_code == 302
    clock.today = w.AFTER_NOTICE
    assert act(client, approved, "approve", note="公示无异议").status_code == 302
    proposed = created(client, "S1-002")
    page = client.get("/applications").get_data(as_text=True)
    cells = {
        int(n): re.sub(r"<[^>]+>", "", row)
        for n, row in re.findall(
            r'<a href="/applications/(\d+)">#\d+</a>.*?<td>([^\n]*?)</td>\s*<td class="num', page, re.S
        )
    }
    assert cells[proposed].startswith("拟认定") and not cells[approved].startswith("拟认定"), cells
    rows = next(tables(client.get("/applications?format=csv").data, "csv"))[1]
    listed = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert listed[str(proposed)]["等级性质"] == "拟认定" and listed[str(approved)]["等级性质"] == "已批准"


def test_every_report_table_download_names_codes_by_their_labels(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    codes = vocabulary_codes()
    client = as_user("province1")
    for kind in reports.KINDS:
        for fmt in ("csv", "xlsx"):
            url = f"/reports/{kind}/download?period=2020-2021-autumn&format={fmt}"
            response = client.get(url)
            assert response.status_code == 200, url
            found = problems(response.data, fmt, codes)
            assert not found, (url, found[:10])


def test_the_scan_catches_a_raw_code_and_a_machine_timestamp() -> None:
    codes = vocabulary_codes()
    data = "\ufeff学号,等级,时间\r\nS1-001,special,2020-09-01T08:00:00\r\n".encode()
    found = problems(data, "csv", codes)
    assert any("special" in f for f in found) and any(ISO_MOMENT.search(f) for f in found)
    assert problems("\ufeffstudent_id\r\n".encode(), "csv", codes)
