"""Reading a 50,000-row roster in each accepted format, and building its error sheet, as ratios of one run.

    .venv/bin/python bench/import_formats.py

The same rows (Chinese headers and labels) as CSV in UTF-8, UTF-8 with BOM, GBK and GB18030, and as XLSX; each read
with `spreadsheets.read_table` (decoding included), three times, the best kept. Then the error sheet
(`import_sheets.error_workbook`: the table with 错误说明 first, every row) for a file with every row bad.
"""

from __future__ import annotations

import io
import time
import tracemalloc
from collections.abc import Callable

import xlsxwriter

from aidservice.engine import load_rules
from aidservice.services.roster.import_sheets import import_report
from aidservice.services.sheets.spreadsheets import read_table
from config import REPO_ROOT

RULES = load_rules(REPO_ROOT / "rules")
ROWS = 50_000
HEADER = [
    "学号",
    "身份证号",
    "姓名",
    "班级",
    "学段",
    "年级",
    "寄宿生",
    "农村户籍",
    "监护人1身份证号",
    "监护人1姓名",
    "监护人1与学生关系",
]


def rows() -> list[list[str]]:
    return [
        [
            f"S{n:06d}",
            f"32010220080301{n % 10000:04d}",
            "张三丰",
            "初一(3)班",
            "初中",
            "1",
            "否",
            "是",
            "320102198001010016",
            "张建国",
            "父亲",
        ]
        for n in range(ROWS)
    ]


def csv(encoding: str) -> bytes:
    return ("\r\n".join(",".join(r) for r in [HEADER, *rows()]) + "\r\n").encode(encoding)


def xlsx() -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "constant_memory": True})
    sheet = book.add_worksheet()
    for r, cells in enumerate([HEADER, *rows()]):
        for c, value in enumerate(cells):
            sheet.write_string(r, c, value)
    book.close()
    return out.getvalue()


def best(work: Callable[[], object]) -> float:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    files = {
        "csv utf-8": ("r.csv", csv("utf-8")),
        "csv utf-8 bom": ("r.csv", csv("utf-8-sig")),
        "csv gbk": ("r.csv", csv("gbk")),
        "csv gb18030": ("r.csv", csv("gb18030")),
        "xlsx": ("r.xlsx", xlsx()),
    }
    base = None
    for label, (name, data) in files.items():
        took = best(lambda name=name, data=data: read_table(name, data, ROWS))
        base = base or took
        print(f"{label:14} {len(data) / 1e6:5.1f} MB  read {took:6.2f} s  ×{took / base:4.2f}")
    errors = {f"rows.{n}.stage": ["“初三”不是允许的值"] for n in range(2, ROWS + 2)}
    data = files["csv gbk"][1]
    took = best(lambda: import_report("r.csv", data, errors, RULES.facts, max_rows=ROWS, shown=500))
    print(
        f"error report + sheet, every row bad (GBK CSV)  {took:6.2f} s  ×{took / base:4.2f} of reading the UTF-8 CSV"
    )
    tracemalloc.start()
    import_report("r.csv", data, errors, RULES.facts, max_rows=ROWS, shown=500)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"error report + sheet: peak Python allocations {peak / 2**20:.0f} MiB (the errors map included)")


if __name__ == "__main__":
    main()
