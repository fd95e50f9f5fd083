"""What a report reads and how: the session, the period, the scope, the time the data is read at, the SQL for
"current at that time", special-group membership (temporary tables filled once per transaction), instalments due,
and the reproducibility record every report carries.

Reading history (`as_of`): determinations and decisions are never overwritten; a row was current at time T
when it was created by T and no row superseding it was created by T. Agency records are superseded through
`superseded_by`: a record was current at T when received by T and its successor (if any) arrived after T.
An application's state at T is the state its last action up to T led to (`application_actions`). Students
count from their `created_at` while on a school's roll (enrolment state enrolled or suspended). What has no history here is read as it is now: the roster's other fields
(school, stage, guardians), an application's listed conflicts, and quota places.
Without `as_of` the report reads the live `current` flags at the time it starts (recorded as its as_of), which
is the same set the history predicates select for that time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import (
    ColumnElement,
    Date,
    Float,
    Integer,
    MetaData,
    Numeric,
    Select,
    String,
    Table,
    and_,
    case,
    cast,
    exists,
    func,
    insert,
    inspect,
    literal,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from aidservice.models import (
    AgencyRecord,
    Application,
    ApplicationAction,
    Decision,
    Determination,
    FeedBatch,
    Guardian,
    Region,
    School,
    Student,
)
from aidservice.models.application import OPEN_STATES
from aidservice.services.context import Settings
from aidservice.services.reports.common import AID_KINDS, AIDED_DEFINITION, Labels
from aidservice.services.reports.periods import Period, utc_text
from aidservice.services.reports.scope import Scope
from aidservice.services.vocabulary import ON_ROLL


@dataclass(slots=True)
class Context:
    """Everything a report query needs: the session, the period, the scope and the time it reads the data at."""

    session: Session
    settings: Settings
    period: Period
    scope: Scope
    as_of: datetime  # aware, UTC
    live: bool  # no as_of given: read the `current` flags
    tables: dict[str, Table] = field(
        default_factory=dict
    )  # special-group students, computed once per transaction
    notes: bool = False
    """Officers' free-text notes (a rejection's reason) may appear: only in a school officer's own school report."""

    @property
    def labels(self) -> Labels:
        """The running rules' special groups and stages with their names."""
        return Labels.of(self.settings.rules)

    @property
    def groups(self) -> tuple[str, ...]:
        """The running rules' special groups (their statuses), in report order."""
        return self.settings.rules.vocabulary.group_statuses

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    def tune(self) -> None:
        """PostgreSQL: no JIT (correlated sub-plans inflate the estimates) and room for roster-sized hash joins."""
        if self.dialect == "postgresql":
            self.session.execute(text("SET LOCAL jit = off"))
            self.session.execute(
                text("SET LOCAL work_mem = '64MB'")
            )  # hash joins over the roster stay in memory

    def concat(self, column: Any) -> Any:
        """Aggregate text values joined by ';' (order is fixed by the caller, which sorts them)."""
        if self.dialect == "postgresql":
            return func.string_agg(column, literal(";"))
        return func.group_concat(column, ";")

    # -- current at the report time

    def determination_current(self, d: Any = Determination) -> ColumnElement[bool]:
        if self.live:
            return d.current.is_(True)
        later = aliased(Determination)
        return and_(
            d.created_at <= self.as_of,
            ~exists().where(later.supersedes == d.id, later.created_at <= self.as_of),
        )

    def decision_current(self, d: Any = Decision) -> ColumnElement[bool]:
        if self.live:
            return d.current.is_(True)
        later = aliased(Decision)
        return and_(
            d.decided_at <= self.as_of,
            ~exists().where(later.supersedes == d.id, later.decided_at <= self.as_of),
        )

    def record_current(self, a: Any = AgencyRecord) -> ColumnElement[bool]:
        if self.live:
            return a.superseded_by.is_(None)
        successor = aliased(AgencyRecord)
        return and_(
            a.received_at <= self.as_of,
            or_(
                a.superseded_by.is_(None),
                exists().where(successor.id == a.superseded_by, successor.received_at > self.as_of),
            ),
        )

    def record_valid(self, a: Any = AgencyRecord) -> ColumnElement[bool]:
        """Valid on some day of the period (valid_to is exclusive; open ends allowed)."""
        return and_(
            or_(a.valid_from.is_(None), a.valid_from <= self.period.end),
            or_(a.valid_to.is_(None), a.valid_to > self.period.start),
        )

    def enrolled(self, s: Any = Student) -> ColumnElement[bool]:
        """On a school's roll (enrolled or suspended; the state is read as it is now) and created by the report time."""
        on_roll = s.enrolment_state.in_(ON_ROLL)
        return on_roll if self.live else and_(on_roll, s.created_at <= self.as_of)

    def application_seen(self, a: Any = Application) -> ColumnElement[bool]:
        return true() if self.live else a.submitted_at <= self.as_of

    def application_state(self, a: Any = Application) -> Any:
        """The application's state at the report time."""
        if self.live:
            return a.state
        step = aliased(ApplicationAction)
        return (
            select(step.to_state)
            .where(step.application_id == a.id, step.at <= self.as_of)
            .order_by(step.id.desc())
            .limit(1)
            .scalar_subquery()
        )

    # -- building blocks

    def in_scope(self) -> Select[Any]:
        """Enrolled students of the scope: (student_pk, stage, school_code, child)."""
        return (
            select(
                Student.id.label("student_pk"),
                Student.stage.label("stage"),
                Student.school_code.label("school_code"),
                self.scope.child().label("child"),
            )
            .join(School, School.code == Student.school_code)
            .where(self.scope.schools(), self.enrolled())
        )

    def members(self) -> Table:
        """Temporary table (student_pk, grp, stage, child): the scope's special-group students (see `materialize`)."""
        # Household statuses reach a student through their own number or a guardian's, personal ones only
        # through their own (the matching of facts_assembly); records current at the report time and valid
        # on some day of the period.
        self.materialize()
        return self.tables["member"]

    def classified(self) -> Table:
        """Temporary table (student_pk, app_id, outcome, stage, child): each special-group student, aided or why not."""
        self.materialize()
        return self.tables["classified"]

    def materialize(self) -> None:
        """Fill this report's temporary tables once per transaction: record matches, members, classification."""
        # Dropped with the transaction on PostgreSQL; dropped and made again on the next report on SQLite.
        connection = self.session.connection()
        if self.tables and _exists(connection, self.tables["classified"].name):
            return
        self.tables.clear()  # a commit dropped them (PostgreSQL): every one is made again, the instalments too
        metadata = MetaData()
        options = {"postgresql_on_commit": "DROP"} if self.dialect == "postgresql" else {}

        def temporary(name: str, *columns: sa.Column[Any]) -> Table:
            table = Table(name, metadata, *columns, prefixes=["TEMPORARY"], **options)
            connection.execute(text(f"DROP TABLE IF EXISTS {name}"))
            table.create(connection)
            return table

        record = temporary("report_record", sa.Column("hmac", String(64)), sa.Column("grp", String(40)))
        connection.execute(
            insert(record).from_select(
                ["hmac", "grp"],
                select(AgencyRecord.person_hmac, AgencyRecord.status)
                .where(AgencyRecord.status.in_(self.groups), self.record_current(), self.record_valid())
                .distinct(),
            )
        )
        match = temporary(
            "report_match",
            sa.Column("hmac", String(64)),
            sa.Column("grp", String(40)),
            sa.Column("student_pk", Integer),
            sa.Column("via_guardian", sa.Boolean),
        )
        member = temporary(
            "report_member",
            sa.Column("student_pk", Integer),
            sa.Column("grp", String(40)),
            sa.Column("stage", String(16)),
            sa.Column("child", String(32)),
        )
        classified = temporary(
            "report_classified",
            sa.Column("student_pk", Integer, primary_key=True),
            sa.Column("app_id", Integer),
            sa.Column("outcome", String(20)),
            sa.Column("stage", String(16)),
            sa.Column("child", String(32)),
        )
        analyze = self.dialect == "postgresql"  # temporary tables get no statistics otherwise
        if analyze:
            connection.execute(text("ANALYZE report_record"))
        connection.execute(
            insert(match).from_select(
                ["hmac", "grp", "student_pk", "via_guardian"], self._match_select(record)
            )
        )
        connection.execute(text("CREATE INDEX ix_report_match_hmac ON report_match (hmac)"))
        if analyze:
            connection.execute(text("ANALYZE report_match"))
        connection.execute(
            insert(member).from_select(["student_pk", "grp", "stage", "child"], self._member_select(match))
        )
        connection.execute(text("CREATE INDEX ix_report_member_student ON report_member (student_pk)"))
        if analyze:
            connection.execute(text("ANALYZE report_member"))
        connection.execute(
            insert(classified).from_select(
                ["student_pk", "app_id", "outcome", "stage", "child"], self._classified_select(member)
            )
        )
        if analyze:
            connection.execute(text("ANALYZE report_classified"))
        self.tables.update(match=match, member=member, classified=classified)

    def special_paid(self) -> Table:
        """Temporary table (decision_id, student_pk, program, kind, amount_fen): special-group instalments due."""
        classified = self.classified()
        if "paid" in self.tables:
            return self.tables["paid"]
        connection = self.session.connection()
        options = {"postgresql_on_commit": "DROP"} if self.dialect == "postgresql" else {}
        paid = Table(
            "report_paid",
            MetaData(),
            sa.Column("decision_id", Integer),
            sa.Column("student_pk", Integer),
            sa.Column("program", String(64)),
            sa.Column("kind", String(16)),
            sa.Column("amount_fen", sa.BigInteger),
            prefixes=["TEMPORARY"],
            **options,
        )
        connection.execute(text("DROP TABLE IF EXISTS report_paid"))
        paid.create(connection)
        due = self.instalments(students=select(classified.c.student_pk))
        connection.execute(
            insert(paid).from_select(
                ["decision_id", "student_pk", "program", "kind", "amount_fen"],
                select(
                    due.c.decision_id, due.c.student_pk, due.c.program, due.c.kind, due.c.amount_fen
                ).where(self.due_in_period(due.c.due)),
            )
        )
        self.tables["paid"] = paid
        return paid

    def special_records(self) -> Select[Any]:
        """Current special-group records valid in the period (the people the special-group report is about)."""
        return select(AgencyRecord).where(
            AgencyRecord.status.in_(self.groups), self.record_current(), self.record_valid()
        )

    def _match_select(self, rec: Table) -> Any:
        """Each special-group record with every student it reaches, directly or through a guardian."""
        own = select(
            rec.c.hmac, rec.c.grp, Student.id.label("student_pk"), literal(False).label("via_guardian")
        ).join(rec, rec.c.hmac == Student.id_hmac)
        via = select(
            rec.c.hmac,
            rec.c.grp,
            Guardian.student_pk.label("student_pk"),
            literal(True).label("via_guardian"),
        ).join(rec, rec.c.hmac == Guardian.id_hmac)
        return union_all(own, via)

    def _member_select(self, match: Table) -> Select[Any]:
        """Household statuses through the student or a guardian, personal ones through the student's own number."""
        reaches = or_(
            match.c.via_guardian.is_(False),
            match.c.grp.in_(sorted(self.settings.rules.vocabulary.household_statuses)),
        )
        return (
            select(
                match.c.student_pk,
                match.c.grp,
                Student.stage.label("stage"),
                self.scope.child().label("child"),
            )
            .join(Student, Student.id == match.c.student_pk)
            .join(School, School.code == Student.school_code)
            .where(reaches, self.scope.schools(), self.enrolled())
            .distinct()
        )

    def aided(self) -> Any:
        """Subquery (student_pk): students with aid in the period's school year (see `AIDED_DEFINITION`)."""
        return (
            select(Decision.student_pk)
            .where(
                Decision.school_year == self.period.school_year,
                self.decision_current(),
                Decision.status == "awarded",
                Decision.kind.in_(AID_KINDS),
            )
            .distinct()
            .subquery("aided")
        )

    def _classified_select(self, member: Table) -> Select[Any]:
        aided = self.aided()
        latest = (
            select(Application.student_pk, func.max(Application.id).label("app_id"))
            .where(Application.school_year == self.period.school_year, self.application_seen())
            .group_by(Application.student_pk)
            .subquery("latest_app")
        )
        people = (
            select(
                member.c.student_pk,
                func.min(member.c.stage).label("stage"),
                func.min(member.c.child).label("child"),
            )
            .group_by(member.c.student_pk)
            .subquery("special_students")
        )
        state = self.application_state()
        unfunded = aliased(Decision)
        not_funded = exists().where(
            unfunded.application_id == Application.id,
            unfunded.status == "not_funded",
            self.decision_current(unfunded),
        )
        shows_group = or_(*[Application.facts[(g, "value")].as_boolean().is_(True) for g in self.groups])
        conflicts = func.coalesce(func.json_array_length(Application.conflicts), 0) > 0
        outcome = case(
            (aided.c.student_pk.is_not(None), "aided"),
            (Application.id.is_(None), "no_application"),
            (state == "rejected", "rejected"),
            (and_(state.in_(OPEN_STATES), conflicts), "data_conflict"),
            (state.in_(OPEN_STATES), "in_review"),
            (not_funded, "quota_shortfall"),
            (or_(conflicts, ~shows_group), "data_conflict"),
            else_="no_award",
        )
        return (
            select(
                people.c.student_pk, latest.c.app_id, outcome.label("outcome"), people.c.stage, people.c.child
            )
            .select_from(people)
            .outerjoin(aided, aided.c.student_pk == people.c.student_pk)
            .outerjoin(latest, latest.c.student_pk == people.c.student_pk)
            .outerjoin(Application, Application.id == latest.c.app_id)
        )

    def instalments(self, students: Any = None) -> Any:
        """Subquery of the instalments of current awarded decisions of the school year (optionally some students)."""
        base = Decision
        if self.dialect == "postgresql":
            element = func.json_array_elements(base.instalments).table_valued("value").lateral("element")
            due = cast(element.c.value.op("->>")("due"), Date())
            amount = cast(func.round(cast(element.c.value.op("->>")("amount"), Numeric()) * 100), Integer)
        else:
            element = func.json_each(base.instalments).table_valued("value").alias("element")
            due = func.json_extract(element.c.value, "$.due")
            amount = cast(
                func.round(cast(func.json_extract(element.c.value, "$.amount"), Float()) * 100), Integer
            )
        return (
            select(
                base.id.label("decision_id"),
                base.student_pk,
                base.school_code,
                base.program,
                base.kind,
                due.label("due"),
                amount.label("amount_fen"),
            )
            .select_from(base)
            .join(element, true())
            .where(
                base.school_year == self.period.school_year,
                self.decision_current(base),
                base.status == "awarded",
                true() if students is None else base.student_pk.in_(students),
            )
            .subquery("instalment")
        )

    def due_in_period(self, due: Any) -> ColumnElement[bool]:
        if self.dialect == "postgresql":
            return and_(due >= self.period.start, due <= self.period.end)
        return and_(due >= self.period.start.isoformat(), due <= self.period.end.isoformat())

    # -- metadata

    def watermark(self) -> list[dict[str, Any]]:
        """The last batch of each agency source received by the report time."""
        latest = (
            select(FeedBatch.source, func.max(FeedBatch.received_at).label("at"))
            .where(FeedBatch.received_at <= self.as_of)
            .group_by(FeedBatch.source)
            .subquery()
        )
        rows = self.session.execute(
            select(FeedBatch.source, FeedBatch.batch_id, FeedBatch.received_at)
            .join(latest, and_(latest.c.source == FeedBatch.source, latest.c.at == FeedBatch.received_at))
            .order_by(FeedBatch.source, FeedBatch.batch_id)
        ).all()
        out: dict[str, dict[str, Any]] = {}
        for source, batch_id, received in rows:
            out.setdefault(
                source, {"source": source, "batch_id": batch_id, "received_at": utc_text(aware(received))}
            )
        return list(out.values())

    def meta(self, kind: str, versions: dict[str, list[str]]) -> dict[str, Any]:
        """The reproducibility record every report carries."""
        return {
            "kind": kind,
            "period": self.period.as_json(),
            "region": self.scope.as_json(),
            "as_of": utc_text(self.as_of),
            "rule_set_versions": versions,
            "feed_watermark": self.watermark(),
            "running_rule_set_version": self.settings.rules.version,
            "aided_definition": AIDED_DEFINITION,
            "source_labels": {src.id: src.label for src in self.settings.rules.vocabulary.sources},
        }


def aware(moment: datetime) -> datetime:
    """SQLite returns naive UTC datetimes; everything stored is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def child_names(ctx: Context, codes: Sequence[str]) -> dict[str, str]:
    """Names of the next-level units: cities and counties from `regions`, schools from `schools`."""
    if not codes:
        return {}
    if ctx.scope.child_level in ("city", "county"):
        query = select(Region.code, Region.name).where(Region.code.in_(list(codes)))
    else:
        query = select(School.code, School.name).where(School.code.in_(list(codes)))
    return {code: name for code, name in ctx.session.execute(query)}


def program_names(settings: Settings) -> dict[str, str]:
    """Program ids to their Chinese names, from the running rule set."""
    return {p.id: p.name for p in settings.rules.rules.programs}


def coverage_by_child(ctx: Context, classified: Any) -> dict[str, tuple[int, int]]:
    """{next-level unit: (special-group students, of them aided)}."""
    query = select(
        classified.c.child, func.count(), func.sum(case((classified.c.outcome == "aided", 1), else_=0))
    ).group_by(classified.c.child)
    return {child: (n, int(aided or 0)) for child, n, aided in ctx.session.execute(query)}


def known_children(ctx: Context) -> dict[str, str]:
    """Every next-level unit of the scope with its name, data or not (so an empty one still shows)."""
    if ctx.scope.child_level in ("city", "county"):
        rows = ctx.session.execute(
            select(Region.code, Region.name).where(Region.parent_code == ctx.scope.code)
        )
    else:
        rows = ctx.session.execute(select(School.code, School.name).where(ctx.scope.schools()))
    return {code: name for code, name in rows}


def _exists(connection: Any, name: str) -> bool:
    """Whether this connection still has the temporary table (a commit drops it on PostgreSQL)."""
    return (
        bool(inspect(connection).has_table(name))
        if connection.dialect.name == "sqlite"
        else bool(
            connection.execute(
                text("SELECT to_regclass(:name) IS NOT NULL"), {"name": f"pg_temp.{name}"}
            ).scalar()
        )
    )
