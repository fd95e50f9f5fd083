"""The vocabulary a rule set gives the rest of the service: who sends which status, and the special groups.

`rules/sources.yaml` names each source of statuses (an agency that syncs its register, or a status the
applicant declares with a document and the school verifies), the statuses it may send, how far each
reaches (a household status counts when the record's person is the student or one of the student's
guardians; a personal status only on the student's own number), the fact a guardian's status gives the
student (`disabled` on a guardian gives `disabled_parent`), and the attributes a record carries, each
bound to a fact (`grade` -> `disability_grade`). `special_groups` lists the special groups (特殊群体) in
report order with the names reports print.

Feeds, the assembly of facts, the application form, the reports and the demo read these from the loaded
rule set, so a new agency status (for example 低保边缘 from civil affairs) is a rules change only.
The loader checks every name against the fact catalogue (see loader_vocabulary).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from .result import Citation
from .where import Where

REACHES = ("household", "person")
SOURCE_KINDS = ("agency", "declared")
BUILTIN_SOURCES = ("roster", "school", "application")
"""Where a fact comes from when no status source sends it: the roster, the school, the application form."""


@dataclass(frozen=True, slots=True)
class Attribute:
    """An attribute a status record carries, bound to the fact it becomes (`grade` -> `disability_grade`)."""

    name: str
    fact: str
    required: bool = False


@dataclass(frozen=True, slots=True)
class Status:
    """A status a source may send; its name is a boolean fact of the catalogue."""

    name: str
    source: str
    reaches: str  # household | person
    guardian_fact: str | None = None  # the fact a guardian's (personal) status gives the student
    attributes: tuple[Attribute, ...] = ()
    where: Where | None = None
    label: str = ""  # how a declared status is named to officers (外省建档立卡); empty: the fact's label
    basis: tuple[Citation, ...] = ()

    @property
    def household(self) -> bool:
        return self.reaches == "household"

    def attribute(self, name: str) -> Attribute | None:
        return next((a for a in self.attributes if a.name == name), None)


@dataclass(frozen=True, slots=True)
class Source:
    """A source of statuses: an agency register (`agency`) or the applicant's verified declaration (`declared`)."""

    id: str
    label: str
    kind: str
    statuses: tuple[Status, ...]
    where: Where | None = None
    report_label: str = ""  # a declared source's own line in the special-groups report
    basis: tuple[Citation, ...] = ()

    @property
    def status_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.statuses)

    def status(self, name: str) -> Status | None:
        return next((s for s in self.statuses if s.name == name), None)


@dataclass(frozen=True, slots=True)
class Group:
    """A special group (特殊群体) of the reports: the students holding `status`, named `label`."""

    status: str
    label: str
    where: Where | None = None


@dataclass(frozen=True)
class Vocabulary:
    """Sources and special groups of one rule set, with the lookups every caller needs."""

    sources: tuple[Source, ...] = ()
    groups: tuple[Group, ...] = ()

    def source(self, source_id: str) -> Source | None:
        return next((s for s in self.sources if s.id == source_id), None)

    @cached_property
    def agencies(self) -> tuple[Source, ...]:
        """The agency sources, in file order: the ones that sync registers through the feeds API."""
        return tuple(s for s in self.sources if s.kind == "agency")

    @cached_property
    def agency_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.agencies)

    @cached_property
    def agency_statuses(self) -> dict[str, tuple[str, ...]]:
        """Agency source -> the statuses it may send."""
        return {s.id: s.status_names for s in self.agencies}

    @cached_property
    def statuses(self) -> dict[str, Status]:
        """Every agency status by name (a status is sent by one agency)."""
        return {st.name: st for s in self.agencies for st in s.statuses}

    @cached_property
    def household_statuses(self) -> frozenset[str]:
        return frozenset(name for name, st in self.statuses.items() if st.household)

    @cached_property
    def guardian_statuses(self) -> frozenset[str]:
        """Statuses that reach a student through a guardian's number: household ones, and personal ones
        that give the student a fact of their own (`disabled` -> `disabled_parent`)."""
        return frozenset(n for n, st in self.statuses.items() if st.household or st.guardian_fact)

    @cached_property
    def fact_sources(self) -> dict[str, str]:
        """Each fact an agency's record sets (statuses, guardian facts, attributes) -> that agency."""
        out: dict[str, str] = {}
        for source in self.agencies:
            for st in source.statuses:
                out[st.name] = source.id
                if st.guardian_fact:
                    out[st.guardian_fact] = source.id
                for attribute in st.attributes:
                    out[attribute.fact] = source.id
        return out

    @cached_property
    def group_statuses(self) -> tuple[str, ...]:
        """The special groups' statuses in report order."""
        return tuple(g.status for g in self.groups)

    @cached_property
    def group_labels(self) -> dict[str, str]:
        return {g.status: g.label for g in self.groups}

    def declarable(self, kind: str = "declared") -> dict[str, tuple[str, ...]]:
        """Sources of `kind` -> the statuses an applicant may declare through them."""
        return {s.id: s.status_names for s in self.sources if s.kind == kind}

    @cached_property
    def declared_sources(self) -> tuple[Source, ...]:
        """The `declared` sources: statuses an applicant declares with a document and the school verifies."""
        return tuple(s for s in self.sources if s.kind == "declared")
