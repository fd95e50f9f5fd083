"""Reports written as JSON, CSV (UTF-8 with BOM), XLSX (XlsxWriter, constant memory) or a printable HTML page with
inline SVG charts; every writer streams the long sections row by row.

The HTML page is the package's template reports/report.html, rendered by a Jinja environment of this module's
own (autoescaped as Flask's is for .html): it needs nothing from the app, so services stay without Flask and
the archive, the worker and the command line render it as a request does.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, Template, select_autoescape

from aidservice.i18n import BUILTIN_SOURCES, KINDS, STATUSES, format_date, format_datetime
from aidservice.i18n_marker import N_
from aidservice.services.reports.common import AIDED_DEFINITION_CN, Chart, Column, Report, Section

FORMATS = ("json", "csv", "xlsx", "html")
MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html; charset=utf-8",
}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 64 * 1024
VERSION_KINDS = {"determinations": "认定结果", "decisions": "资助决定"}
META_LABELS = (
    ("title", "报告"),
    ("period", "期间"),
    ("region", "地区"),
    ("as_of", N_("数据截至（北京时间）")),
    ("rule_set_versions", "规则版本"),
    ("feed_watermark", N_("部门数据水位")),
    ("aided_definition", N_("“已资助”定义")),
    ("message", "说明"),
)


def yuan(fen: int | None) -> str | None:
    """Fen as a yuan string with two places ("1250.00")."""
    if fen is None:
        return None
    sign, fen = ("-", -fen) if fen < 0 else ("", fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def filename(kind: str, region: str, period: str, fmt: str) -> str:
    """special-groups_320000_2020-2021-autumn.xlsx (a date range's '..' becomes '_')."""
    return f"{kind}_{region}_{period}".replace("..", "_") + f".{fmt}"


def people_rows(report: Report, section: Section) -> tuple[list[Column], Iterator[Sequence[Any]]]:
    """The columns and rows a file for people holds (CSV, XLSX): codes by their labels, and the code columns
    beside their labels left out (the JSON keeps them for programs)."""
    shown = section.shown
    columns = [section.columns[i] for i in shown]
    if len(shown) == len(section.columns):
        return columns, labelled_rows(report, section)
    return columns, ([row[i] for i in shown] for row in labelled_rows(report, section))


def labelled_rows(report: Report, section: Section) -> Iterator[Sequence[Any]]:
    """The section's rows with its coded columns (kinds, rule states, sources) as their labels, for people."""
    sources = {**BUILTIN_SOURCES, **report.meta.get("source_labels", {})}
    tables: dict[str, Callable[[str], str]] = {
        "kind": lambda code: KINDS.get(code, code),
        "rule_status": lambda code: STATUSES.get(code, code),
        "source": lambda code: sources.get(code, code),
        "item": provisional_item,
    }
    coded = [(i, tables[c.labels]) for i, c in enumerate(section.columns) if c.labels in tables]
    for row in section.iter_rows():
        if not coded:
            yield row
            continue
        out = list(row)
        for i, name in coded:
            if isinstance(out[i], str) and out[i]:
                out[i] = "、".join(name(code) for code in out[i].split(";"))
        yield out


def provisional_item(item: str) -> str:
    """A provisional item as the programs report names it: 资助项目本身, 金额 …, 参数 <label>."""
    if item == "program":
        return "资助项目本身"
    head, _, rest = item.partition(" ")
    if head == "amount":
        return f"金额 {rest}"
    if head == "parameter":
        label = rest.partition(" (")[2].rstrip(")")
        return f"参数 {label or rest}"
    if item == "rule set not published":
        return "规则版本未存档，无法列出暂定项"
    return item


def render(report: Report, fmt: str) -> Iterator[bytes]:
    """The report in a format, as byte chunks."""
    if fmt == "json":
        return _encode(json_chunks(report))
    if fmt == "csv":
        return _encode(csv_chunks(report))
    if fmt == "xlsx":
        return xlsx_chunks(report)
    return _encode(html_chunks(report))


def _encode(chunks: Iterator[str]) -> Iterator[bytes]:
    """UTF-8 bytes in chunks of about CHUNK (fewer, larger writes to the socket)."""
    buffer: list[str] = []
    size = 0
    for text in chunks:
        buffer.append(text)
        size += len(text)
        if size >= CHUNK:
            yield "".join(buffer).encode("utf-8")
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer).encode("utf-8")


# ------------------------------------------------------------------------------------------- JSON


def _json_value(column: Column, value: Any) -> Any:
    if value is None:
        return None
    if column.type == "money":
        return yuan(value)
    if column.type == "rate":
        return value
    if column.type == "int":
        return int(value)
    return value if isinstance(value, str) else str(value)


def json_chunks(report: Report) -> Iterator[str]:
    """{kind, title, ...meta, empty, message, sections: {key: {title, note, columns, rows: [{...}]}}}."""
    dump = json.dumps
    head = {
        "kind": report.kind,
        "title": report.title,
        **{k: v for k, v in report.meta.items() if k != "kind"},
        "empty": report.empty,
        "message": report.message,
    }
    yield dump(head, ensure_ascii=False)[:-1] + ', "sections": {'
    for index, section in enumerate(report.sections):
        columns = [{"key": c.key, "heading": c.heading, "type": c.type} for c in section.columns]
        yield ("" if index == 0 else ", ") + dump(section.key) + ": "
        yield dump({"title": section.title, "note": section.note, "columns": columns}, ensure_ascii=False)[
            :-1
        ]
        yield ', "rows": ['
        keys = [c.key for c in section.columns]
        for n, row in enumerate(section.iter_rows()):
            item = {k: _json_value(c, v) for k, c, v in zip(keys, section.columns, row, strict=True)}
            yield ("" if n == 0 else ", ") + dump(item, ensure_ascii=False)
        yield "]}"
    yield "}}\n"


# -------------------------------------------------------------------------------------------- CSV


def _csv_value(column: Column, value: Any) -> str:
    if value is None:
        return ""
    if column.type == "money":
        return yuan(value) or ""
    if column.type == "rate":
        return f"{value * 100:.2f}%"
    if column.type == "int":
        return str(int(value))
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text  # spreadsheets run formula-like cells


def meta_lines(report: Report) -> list[tuple[str, str]]:
    """The report's reproducibility record as (label, text) lines."""
    meta = report.meta
    versions = "；".join(
        f"{VERSION_KINDS.get(kind, kind)}：{'、'.join(v) or '—'}"
        for kind, v in meta["rule_set_versions"].items()
    )
    period = meta["period"]
    values = {
        "title": report.title,
        "period": f"{period['name']}（{format_date(period['start'])}至{format_date(period['end'])}）",
        "region": f"{meta['region']['name']}（{meta['region']['code']}）",
        "as_of": format_datetime(meta["as_of"]),
        "rule_set_versions": versions,
        "feed_watermark": watermark_text(meta["feed_watermark"], meta.get("source_labels", {})),
        "aided_definition": AIDED_DEFINITION_CN,
        "message": report.message or ("本报告为空" if report.empty else ""),
    }
    return [(label, values[key]) for key, label in META_LABELS if values[key]]


def watermark_text(watermark: Sequence[dict[str, Any]], labels: dict[str, str]) -> str:
    """Each agency's last batch as a Chinese sentence with the source's label and the Beijing time it arrived."""
    sentences = [
        f"{labels.get(w['source'], w['source'])}最近一批数据（批次 {w['batch_id']}）于"
        f"{format_datetime(w['received_at'])}收到"
        for w in watermark
    ]
    return "；".join(sentences) + "。" if sentences else "尚未收到部门数据。"


def csv_chunks(report: Report) -> Iterator[str]:
    """UTF-8 with BOM; the report record, then each section: a title line, a header line, its rows, a blank line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")

    def take() -> str:
        text = out.getvalue()
        out.seek(0)
        out.truncate()
        return text

    out.write("\ufeff")
    for label, value in meta_lines(report):
        writer.writerow([label, _csv_value(Column("v", ""), value)])
    writer.writerow([])
    yield take()
    for section in report.sections:
        writer.writerow([f"【{section.title}】"] + ([section.note] if section.note else []))
        columns, rows = people_rows(report, section)
        writer.writerow([c.heading for c in columns])
        for n, row in enumerate(rows, start=1):
            writer.writerow([_csv_value(c, v) for c, v in zip(columns, row, strict=True)])
            if n % 500 == 0:
                yield take()
        writer.writerow([])
        yield take()


# ------------------------------------------------------------------------------------------- XLSX

SHEET_FORBIDDEN = str.maketrans({c: "_" for c in "[]:*?/\\"})


def xlsx_chunks(report: Report) -> Iterator[bytes]:
    """A workbook written with constant memory to a temporary file, then read back in chunks and removed."""
    handle, path = tempfile.mkstemp(suffix=".xlsx", prefix="aid-report-")
    os.close(handle)
    try:
        write_xlsx(report, path)
        with open(path, "rb") as data:
            while chunk := data.read(CHUNK):
                yield chunk
    finally:
        os.unlink(path)


def write_xlsx(report: Report, path: str) -> None:
    """说明 (the report record) and one sheet per section: frozen header row, numbers as numbers, Chinese headings."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(
        path,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    as_of = datetime.fromisoformat(report.meta["as_of"]).replace(tzinfo=None)
    workbook.set_properties({"title": report.title, "created": as_of})  # the same report, the same bytes
    header = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
    money = workbook.add_format({"num_format": "#,##0.00"})
    percent = workbook.add_format({"num_format": "0.00%"})
    about = workbook.add_worksheet("说明")
    about.set_column(0, 0, 18)
    about.set_column(1, 1, 100)
    for row, (label, value) in enumerate(meta_lines(report)):
        about.write_string(row, 0, label, header)
        about.write_string(row, 1, value)
    used: set[str] = {"说明"}
    for section in report.sections:
        sheet = workbook.add_worksheet(_sheet_name(section, used))
        sheet.freeze_panes(1, 0)
        columns, rows = people_rows(report, section)
        for col, column in enumerate(columns):
            sheet.set_column(col, col, column.width)
            sheet.write_string(0, col, column.heading, header)
        kinds = [c.type for c in columns]
        write_string, write_number = sheet.write_string, sheet.write_number
        for r, row in enumerate(rows, start=1):
            for col, value in enumerate(row):
                kind = kinds[col]
                if value is None or value == "":
                    continue
                if kind == "money":
                    write_number(r, col, value / 100, money)
                elif kind == "rate":
                    write_number(r, col, value, percent)
                elif kind == "int":
                    write_number(r, col, value)
                else:
                    write_string(r, col, str(value))
    workbook.close()


def _sheet_name(section: Section, used: set[str]) -> str:
    name = section.title.translate(SHEET_FORBIDDEN)[:28]
    candidate, n = name, 2
    while candidate in used:
        candidate, n = f"{name[:26]}-{n}", n + 1
    used.add(candidate)
    return candidate


# ------------------------------------------------------------------------------------------- HTML


@dataclass(frozen=True, slots=True)
class SvgBar:
    y: float
    width: float
    label: str
    text: str


@dataclass(frozen=True, slots=True)
class SvgChart:
    """A bar chart laid out for the template: every coordinate computed here, the template only draws."""

    title: str
    width: int
    height: int
    label_width: int
    bar_height: int
    bars: Sequence[SvgBar]


def layout(
    chart: Chart, width: int = 720, label_width: int = 180, bar_height: int = 18, gap: int = 6
) -> SvgChart:
    """Bar geometry: the longest bar (or the fixed maximum) spans the plot area."""
    plot = width - label_width - 110
    top = max([chart.scale_max or 0.0] + [b.value for b in chart.bars]) or 1.0
    bars = [
        SvgBar(
            y=i * (bar_height + gap),
            width=round(max(b.value, 0.0) / top * plot, 1),
            label=b.label[:20],
            text=b.text,
        )
        for i, b in enumerate(chart.bars)
    ]
    height = max(len(bars), 1) * (bar_height + gap)
    return SvgChart(chart.title, width, height, label_width, bar_height, bars)


def _html_value(column: Column, value: Any) -> str:
    if value is None or value == "":
        return ""
    if column.type == "money":
        return f"{value / 100:,.2f}"
    if column.type == "rate":
        return f"{value * 100:.2f}%"
    return str(value)


def html_chunks(report: Report) -> Iterator[str]:
    """The printable page, streamed by Jinja (autoescaped; no script, no external resources)."""
    template = _page_template()
    sections = [
        {
            "key": s.key,
            "title": s.title,
            "note": s.note,
            "columns": [s.columns[i] for i in s.shown],
            "rows": _html_rows(report, s),
            "numeric": [s.columns[i].type in ("money", "rate", "int") for i in s.shown],
        }
        for s in report.sections
    ]
    return template.generate(
        report=report, meta=meta_lines(report), charts=[layout(c) for c in report.charts], sections=sections
    )


@cache
def _page_template() -> Template:
    """reports/report.html from the package's templates, loaded once per process."""
    environment = Environment(
        loader=PackageLoader("aidservice", "templates"), autoescape=select_autoescape(("html", "htm", "xml"))
    )
    return environment.get_template("reports/report.html")


def _html_rows(report: Report, section: Section) -> Iterator[list[str]]:
    shown = section.shown
    for row in labelled_rows(report, section):
        yield [_html_value(section.columns[i], row[i]) for i in shown]
