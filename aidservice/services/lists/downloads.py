"""Each officer list as a download: its Chinese columns and rows (labels from the rules: levels, stages, the
special groups; states and decision statuses as the pages name them), audited; see export.py for the files.

- roster (学生名册) and applications (申请列表): the screen's `ListFilter`, every page of it;
- approved list (资助名单): the approved applications of the filter with their current decisions' money, funded
  (已资助) and not funded for want of places (名额不足未资助) in columns apart, never added together;
- a notice (公示名单): name, class and level only, as the notice shows them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidservice.i18n import DECISION_STATUSES, STATES
from aidservice.models import Decision
from aidservice.services.actors import Actor
from aidservice.services.applications.notices import NoticeView
from aidservice.services.context import Settings
from aidservice.services.lists import applications, students
from aidservice.services.lists.export import Export, audit_export, check_format, check_size, write
from aidservice.services.lists.filters import ListFilter
from aidservice.services.reports.common import Column

STUDENT_COLUMNS = (
    Column("student_id", "学号", width=14),
    Column("name", "姓名"),
    Column("id_number", "身份证号（脱敏）", width=22),
    Column("school_code", "学校代码"),
    Column("school_name", "学校", width=24),
    Column("class_name", "班级"),
    Column("stage", "学段"),
    Column("grade", "年级", "int", 6),
    Column("level", "认定等级", width=16),
    Column("level_source", "认定来源", width=12),
    Column("application_state", "申请状态（本学年）", width=16),
)
APPLICATION_COLUMNS = (
    Column("id", "申请编号", "int", 10),
    Column("student_id", "学号", width=14),
    Column("name", "姓名"),
    Column("id_number", "身份证号（脱敏）", width=22),
    Column("school_code", "学校代码"),
    Column("school_name", "学校", width=24),
    Column("class_name", "班级"),
    Column("stage", "学段"),
    Column("grade", "年级", "int", 6),
    Column("state", "状态"),
    Column("level", "认定等级"),
    Column("level_kind", "等级性质", width=10),  # 拟认定 before approval: never read as the standing
    Column("conflicts", "数据冲突", "int", 8),
    Column("submitted_at", "提交时间（北京时间）", width=18),
)
APPROVED_COLUMNS = (
    *APPLICATION_COLUMNS[:9],
    Column("level", "认定等级"),
    Column("programs", "资助项目（已资助）", width=30),
    Column("funded", "已资助金额（元）", "money", 14),
    Column("unfunded_programs", f"资助项目（{DECISION_STATUSES['not_funded']}）", width=30),
    Column("unfunded", f"{DECISION_STATUSES['not_funded']}金额（元）", "money", 16),
)
NOTICE_COLUMNS = (Column("name", "姓名"), Column("class_name", "班级"), Column("level", "认定等级"))


class Labels:
    """The Chinese names of the codes a list shows, from the running rules."""

    def __init__(self, settings: Settings) -> None:
        self.levels = settings.rules.rules.level_labels
        stage = settings.rules.facts.get("stage")
        self.stages = {v: stage.label_of(v) for v in stage.values} if stage is not None else {}

    def level(self, code: str | None) -> str:
        return "" if code is None else self.levels.get(code, code)

    @staticmethod
    def source(level: str | None, decided: bool) -> str:
        """Where a standing's level comes from, as every page labels it."""
        return "" if level is None else ("审批决定" if decided else "系统预判")

    @staticmethod
    def level_kind(level: str | None, state: str) -> str:
        """An application's level is the proposed one (拟认定) until it is approved."""
        return "" if level is None else ("已批准" if state == "approved" else "拟认定")

    def stage(self, code: str) -> str:
        return self.stages.get(code, code)


def _begin(
    session: Session,
    *,
    actor: Actor,
    name: str,
    flt: ListFilter,
    fmt: str,
    request_id: str | None,
    count: Callable[[], int],
) -> None:
    """What every list download does first: check the format, count the filter's rows (refusing a list
    beyond the bound before reading it) and audit who downloads what."""
    check_format(fmt)
    total = count()
    check_size(total)
    audit_export(session, actor=actor, name=name, flt=flt, fmt=fmt, rows=total, request_id=request_id)


def student_export(
    session: Session, *, actor: Actor, settings: Settings, flt: ListFilter, fmt: str, request_id: str | None
) -> Export:
    _begin(
        session,
        actor=actor,
        name="students",
        flt=flt,
        fmt=fmt,
        request_id=request_id,
        count=lambda: students.count(session, actor=actor, settings=settings, flt=flt),
    )
    labels = Labels(settings)
    rows = (
        (
            s["student_id"],
            s["name"],
            s["id_number"],
            s["school_code"],
            s["school_name"],
            s["class_name"],
            labels.stage(s["stage"]),
            s["grade"],
            labels.level(s["level"]),
            labels.source(s["level"], s["decided"]),
            STATES.get(s["application_state"] or "", "未申请"),
        )
        for s in students.rows(session, actor=actor, settings=settings, flt=flt)
    )
    return write("学生名册", STUDENT_COLUMNS, rows, fmt, f"students_{settings.school_year}")


def application_export(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    flt: ListFilter,
    fmt: str,
    request_id: str | None,
    school_year: str | None = None,
) -> Export:
    year = school_year or settings.school_year
    _begin(
        session,
        actor=actor,
        name="applications",
        flt=flt,
        fmt=fmt,
        request_id=request_id,
        count=lambda: applications.count(session, actor=actor, settings=settings, flt=flt, school_year=year),
    )
    labels = Labels(settings)
    rows = (
        (
            *_application_cells(a, labels),
            STATES.get(a["state"], a["state"]),
            labels.level(a["level"]),
            labels.level_kind(a["level"], a["state"]),
            a["conflicts"],
            a["submitted_at"],
        )
        for a in applications.rows(session, actor=actor, settings=settings, flt=flt, school_year=year)
    )
    return write("申请列表", APPLICATION_COLUMNS, rows, fmt, f"applications_{year}")


def approved_export(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    flt: ListFilter,
    fmt: str,
    request_id: str | None,
    school_year: str | None = None,
) -> Export:
    """The approved applications of the filter (its state is set to approved) with their money."""
    year = school_year or settings.school_year
    approved = replace(flt, state="approved")
    _begin(
        session,
        actor=actor,
        name="approved",
        flt=approved,
        fmt=fmt,
        request_id=request_id,
        count=lambda: applications.count(
            session, actor=actor, settings=settings, flt=approved, school_year=year
        ),
    )
    labels = Labels(settings)
    found = list(applications.rows(session, actor=actor, settings=settings, flt=approved, school_year=year))
    money = _money(session, [a["id"] for a in found])
    rows = (
        (*_application_cells(a, labels), labels.level(a["level"]), *money.get(a["id"], ("", 0, "", 0)))
        for a in found
    )
    return write("资助名单", APPROVED_COLUMNS, rows, fmt, f"approved_{year}")


def notice_export(
    session: Session, *, actor: Actor, notice: NoticeView, fmt: str, request_id: str | None
) -> Export:
    """A school's notice (公示名单) as it is shown: name, class, level."""
    check_format(fmt)
    audit_export(
        session,
        actor=actor,
        name="notice",
        flt=None,
        fmt=fmt,
        rows=len(notice["entries"]),
        request_id=request_id,
        extra={"school": notice["school_code"], "notice": str(notice["id"])},
    )
    rows = ((e["name"], e["class_name"], e["level_label"]) for e in notice["entries"])
    stem = f"notice_{notice['school_code']}_{notice['id']}"
    return write(f"公示名单 {notice['opened_on']}", NOTICE_COLUMNS, rows, fmt, stem)


def _application_cells(a: applications.ApplicationRow, labels: Labels) -> tuple[Any, ...]:
    s = a["student"]
    return (
        a["id"],
        s["student_id"],
        s["name"],
        s["id_number"],
        a["school_code"],
        a["school_name"],
        s["class_name"],
        labels.stage(s["stage"]),
        s["grade"],
    )


def _money(session: Session, ids: list[int]) -> dict[int, tuple[str, int, str, int]]:
    """{application id: (funded programs, funded fen, unfunded programs, unfunded fen)} of current decisions."""
    out: dict[int, tuple[str, int, str, int]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = session.execute(
            select(Decision.application_id, Decision.name, Decision.amount_fen, Decision.status)
            .where(Decision.application_id.in_(chunk), Decision.current.is_(True))
            .order_by(Decision.application_id, Decision.id)
        )
        for app_id, name, fen, status in rows:
            funded, f_fen, unfunded, u_fen = out.get(app_id, ("", 0, "", 0))
            if status == "awarded":
                out[app_id] = (_join(funded, name), f_fen + (fen or 0), unfunded, u_fen)
            elif status == "not_funded":
                out[app_id] = (funded, f_fen, _join(unfunded, name), u_fen + (fen or 0))
    return out


def _join(names: str, name: str) -> str:
    return f"{names}、{name}" if names else name
