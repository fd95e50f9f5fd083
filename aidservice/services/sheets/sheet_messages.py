"""The file-level refusals of the spreadsheet reader in Chinese, for the officers' import page and error sheet.

The reader writes each refusal once, in English, as the API documents it (`errors.file`: "has more than 64
columns (row 3)"); `chinese` turns one into the sentence an officer reads, with the numbers it names. A message
no template matches becomes a general sentence, never English (tests/unit/services/test_sheet_messages.py reads
every refusal the reader can write from its source and fails on one without a template).
"""

from __future__ import annotations

import re

GENERAL = "文件无法读取：请另存为 XLSX，或 CSV（UTF-8 或 GBK 编码）后重新导入。"
_XLSX = "文件无法作为 XLSX 工作簿读取（文件已损坏或不是 Excel 保存的工作簿）：请在 Excel 中另存为 .xlsx 后重新导入。"

TEMPLATES: tuple[tuple[str, str], ...] = (
    (
        r"is an old Excel \(\.xls\) file; save it as \.xlsx or CSV UTF-8",
        "文件是旧版 Excel（.xls）格式：请另存为 .xlsx 或 CSV UTF-8 后重新导入。",
    ),
    (r"is empty", "文件为空。"),
    (r"is not valid CSV: .*", "文件不是有效的 CSV：请检查引号是否成对，或另存为 XLSX。"),
    (r"is larger than (\d+) bytes", "文件超过 {0} 字节：请拆分为较小的文件。"),
    (r"has more than (\d+) rows", "文件超过 {0} 行：请拆分为较小的文件。"),
    (r"has more than (\d+) columns \(row (\d+)\)", "文件第 {1} 行超过 {0} 列。"),
    (r"has a cell longer than (\d+) characters \(row (\d+)\)", "文件第 {1} 行有单元格超过 {0} 个字符。"),
    (r"has a cell longer than (\d+) characters", "文件有单元格超过 {0} 个字符。"),
    (
        r"has a row with more than (\d+) columns or a cell longer than (\d+) characters",
        "文件有一行超过 {0} 列，或有单元格超过 {1} 个字符。",
    ),
    (r"could not be read as an XLSX workbook.*", _XLSX),
    (r"has a DOCTYPE or entity declaration in its XML, which a workbook never needs", _XLSX),
    (
        r"has more than (\d+) XML elements that hold no value in one part",
        "文件含有过多空白格式（单个部件超过 {0} 个无值元素）：请另存为 CSV UTF-8 后重新导入。",
    ),
    (
        r"has more than (\d+) parts in its ZIP archive",
        "文件的压缩包含有超过 {0} 个部件：请另存为 .xlsx 后重新导入。",
    ),
    (r"has no worksheet", "文件中没有工作表。"),
    (r"has more than (\d+) shared strings", "文件中的文字超过 {0} 条：请拆分为较小的文件。"),
    (r"has more than (\d+) cell formats", "文件的单元格格式超过 {0} 种：请另存为 CSV UTF-8 后重新导入。"),
    (r"is an encrypted workbook; save it without a password", "文件是加密的工作簿：请取消密码后另存再导入。"),
    (r"inflates to more than (\d+) MiB", "文件解压后超过 {0} MiB：请拆分为较小的文件。"),
    (
        r"has a part compressed more than (\d+):1",
        "文件有部件的压缩比超过 {0}:1：请在 Excel 中另存为 .xlsx 或 CSV UTF-8。",
    ),
)
_COMPILED = tuple((re.compile(pattern), chinese) for pattern, chinese in TEMPLATES)
_HAN = re.compile(r"[\u4e00-\u9fff]")


def known(message: str) -> bool:
    """Whether a template matches the whole of `message`."""
    return any(pattern.fullmatch(message) for pattern, _chinese in _COMPILED)


def chinese(message: str) -> str:
    """A file-level refusal as officers read it; a message already in Chinese stays as it is."""
    if _HAN.search(message):
        return message
    for pattern, sentence in _COMPILED:
        match = pattern.fullmatch(message)
        if match is not None:
            return sentence.format(*match.groups())
    return GENERAL
