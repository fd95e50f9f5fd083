"""The `procedure:` section of a rule set (rules/procedure.yaml): notice length, quota order, guide ratios.

    procedure:
      notice_working_days: {value: 5, status: provisional, note: ..., basis: [...]}
      quota_order: {value: [special_group, level, per_capita_income, applied_at], status: ..., basis: ...}
      guide_ratios: {preschool: preschool_guide_ratio}     # optional: stage -> parameter id

Every reason is given in Chinese (what `aid rules check` shows officers) and English (`--lang en`).
A new rule set must declare the section; a published one stored before procedure was policy has none
and loads with `procedure = None` (it is only ever replayed: evaluation never reads the procedure).
"""

from __future__ import annotations

from typing import Any

from .loader_checks import RuleChecks
from .model import QUOTA_SORT_KEYS, STATUSES, Procedure, Provenance, Where
from .suggest import did_you_mean
from .yamlsrc import RuleIssue, YList, YMap

SETTINGS = ("notice_working_days", "quota_order", "guide_ratios")
REQUIRED = ("notice_working_days", "quota_order")
ITEM_KEYS = ("value", "status", "note", "basis")
NOTICE_DAYS_MAX = 30
FIRST_KEY = "special_group"
GUIDE_KEY = "city_code"  # a guide parameter is keyed by the school's city, or not keyed at all


def _hints(name: str, known: Any) -> tuple[str, str]:
    """did-you-mean in Chinese and English ("" when nothing known is close)."""
    en = did_you_mean(name, known)
    return (f"；是否应为 {en.split('mean ', 1)[1].rstrip('?')}？" if en else ""), en


class ProcedureSections(RuleChecks):
    """Builds the one `procedure:` section of a rule set."""

    def problem(self, file: str, line: int, zh: str, en: str) -> None:
        self.issues.append(RuleIssue(file, line, en, zh=zh))

    def _build_procedure(self) -> Procedure | None:
        declared = self.ordered.get("procedure", [])
        if not declared:
            if not self.published:
                self.problem(
                    self.name,
                    0,
                    "未声明 procedure（公示工作日数、名额分配顺序）：新规则集须有 rules/procedure.yaml，见 docs/rules-format.md",
                    "no procedure declared: the rule set needs a 'procedure:' section "
                    "(notice_working_days, quota_order; see docs/rules-format.md)",
                )
            return None
        body, file, line = declared[0]
        for _other, other_file, other_line in declared[1:]:
            self.problem(
                other_file,
                other_line,
                f"procedure 重复声明（首次在 {file}:{line}）",
                f"duplicate procedure (first at {file}:{line})",
            )
        if not isinstance(body, YMap):
            self.problem(file, line, "procedure 必须是映射（键: 值）", "procedure must be a mapping")
            return None
        ok = self._known_keys(body, file, "procedure", SETTINGS)
        for key in REQUIRED:
            if key not in body:
                self.problem(file, body.line, f"procedure 缺少必填项 {key}", f"procedure is missing '{key}'")
                ok = False
        if not ok:
            return None
        provenance: dict[str, Provenance] = {}
        days = self._notice_days(body["notice_working_days"], file, self.line_of(body, "notice_working_days"))
        order = self._quota_order(body["quota_order"], file, self.line_of(body, "quota_order"))
        for key in REQUIRED:
            item = body[key]
            if isinstance(item, YMap):
                provenance[key] = self._provenance(item, file, f"procedure.{key}")
        guides = self._guide_ratios(body.get("guide_ratios"), file, self.line_of(body, "guide_ratios"))
        if days is None or order is None or guides is None:
            return None
        return Procedure(days, order, guides, provenance, Where(file, line))

    # ---------------------------------------------------------------------------------------- helpers

    def _known_keys(self, ymap: YMap, file: str, what: str, allowed: tuple[str, ...]) -> bool:
        ok = True
        for key in ymap:
            if key not in allowed:
                zh, en = _hints(str(key), allowed)
                self.problem(
                    file,
                    ymap.key_lines[key],
                    f"{what} 中有未知的键 '{key}'（可用：{'、'.join(allowed)}）{zh}",
                    f"unknown key '{key}' in {what} (allowed: {', '.join(allowed)}){en}",
                )
                ok = False
        return ok

    def _item(self, raw: Any, file: str, line: int, what: str) -> YMap | None:
        if not isinstance(raw, YMap):
            self.problem(
                file,
                line,
                f"{what} 须写成 {{value, status, note, basis}}",
                f"{what} must be a mapping {{value, status, note, basis}}",
            )
            return None
        if not self._known_keys(raw, file, what, ITEM_KEYS):
            return None
        if "value" not in raw:
            self.problem(file, raw.line, f"{what} 缺少 value", f"{what} is missing 'value'")
            return None
        return raw

    def _provenance(self, item: YMap, file: str, what: str) -> Provenance:
        status = item.get("status")
        if status not in STATUSES:
            self.problem(
                file,
                self.line_of(item, "status"),
                f"{what}：status 须为 {'、'.join(STATUSES)} 之一",
                f"{what}: status must be one of {', '.join(STATUSES)}, not {status!r}",
            )
        note = self.text(item, "note", file, what)
        if status == "provisional" and not note:
            self.problem(
                file,
                self.line_of(item, "status"),
                f"{what}：暂定值须在 note 中说明理由",
                f"{what}: a provisional value needs a 'note' saying why",
            )
        basis = self.basis(item, file, what)
        return Provenance(str(status or "provisional"), note, basis, Where(file, item.line))

    def _notice_days(self, raw: Any, file: str, line: int) -> int | None:
        what = "procedure.notice_working_days"
        item = self._item(raw, file, line, what)
        if item is None:
            return None
        value = item["value"]
        if type(value) is not int or not 1 <= value <= NOTICE_DAYS_MAX:
            self.problem(
                file,
                self.line_of(item, "value"),
                f"{what}：公示期须为 1 至 {NOTICE_DAYS_MAX} 个工作日的整数，不是 {value!r}",
                f"{what}: the notice period is a whole number of working days from 1 to {NOTICE_DAYS_MAX}, "
                f"not {value!r}",
            )
            return None
        return value

    def _quota_order(self, raw: Any, file: str, line: int) -> tuple[str, ...] | None:
        what = "procedure.quota_order"
        item = self._item(raw, file, line, what)
        if item is None:
            return None
        value = item["value"]
        vline = self.line_of(item, "value")
        if not isinstance(value, YList) or not value or not all(isinstance(k, str) for k in value):
            self.problem(
                file,
                vline,
                f"{what}：须为排序键列表（可用：{'、'.join(QUOTA_SORT_KEYS)}）",
                f"{what}: a list of sort keys (from {', '.join(QUOTA_SORT_KEYS)})",
            )
            return None
        ok = True
        seen: set[str] = set()
        for key, kline in zip(value, value.item_lines, strict=True):
            if key not in QUOTA_SORT_KEYS:
                zh, en = _hints(key, QUOTA_SORT_KEYS)
                self.problem(
                    file,
                    kline,
                    f"{what}：未知的排序键 '{key}'（可用：{'、'.join(QUOTA_SORT_KEYS)}）{zh}",
                    f"{what}: unknown sort key '{key}' (allowed: {', '.join(QUOTA_SORT_KEYS)}){en}",
                )
                ok = False
            elif key in seen:
                self.problem(
                    file, kline, f"{what}：排序键 '{key}' 重复", f"{what}: sort key '{key}' repeated"
                )
                ok = False
            seen.add(key)
        if ok and value[0] != FIRST_KEY:
            self.problem(
                file,
                vline,
                f"{what}：{FIRST_KEY}（特殊群体）必须排在第一位：应助尽助，名额不足时特殊群体学生不得被挤出，"
                "只报告缺口",
                f"{what}: '{FIRST_KEY}' must come first: special-group students are funded first and never "
                "cut by a quota (应助尽助; a shortfall is reported)",
            )
            ok = False
        return tuple(value) if ok else None

    def _guide_ratios(self, raw: Any, file: str, line: int) -> dict[str, str] | None:
        what = "procedure.guide_ratios"
        if raw is None:
            return {}
        if not isinstance(raw, YMap):
            self.problem(
                file, line, f"{what} 须为 学段: 参数 的映射", f"{what} is a mapping of stage -> parameter id"
            )
            return None
        stage_spec = self.facts.get("stage")
        stages = stage_spec.values if stage_spec is not None else ()
        out: dict[str, str] = {}
        ok = True
        for stage, param in raw.items():
            kline = raw.key_lines[stage]
            if stage not in stages:
                zh, en = _hints(str(stage), stages)
                self.problem(
                    file,
                    kline,
                    f"{what}：未知学段 '{stage}'（见 facts.yaml 的 stage）{zh}",
                    f"{what}: unknown stage '{stage}' (see the stage fact){en}",
                )
                ok = False
                continue
            parameter = self.parameters.get(str(param))
            if parameter is None:
                zh, en = _hints(str(param), self.parameters)
                self.problem(
                    file,
                    kline,
                    f"{what}：学段 {stage} 的参数 '{param}' 不存在{zh}",
                    f"{what}: stage {stage}: unknown parameter '{param}'{en}",
                )
                ok = False
                continue
            if parameter.type != "number" or parameter.key not in (None, GUIDE_KEY):
                self.problem(
                    file,
                    kline,
                    f"{what}：参数 '{param}' 须为比例（type: number），按 {GUIDE_KEY} 分市或不分市",
                    f"{what}: parameter '{param}' must be a share (type: number), keyed by {GUIDE_KEY} or not keyed",
                )
                ok = False
                continue
            out[str(stage)] = str(param)
        return out if ok else None
