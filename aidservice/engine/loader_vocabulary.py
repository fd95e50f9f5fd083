"""The vocabulary sections of a rule set: `sources` (who sends which status) and `special_groups`.

Read after the facts, because every name is checked against the fact catalogue:
- a status is a boolean fact whose `source` is the source sending it (an agency status sent by one agency);
- a guardian fact (`guardian: disabled_parent`) is a boolean fact of the same source;
- an attribute (`grade: {fact: disability_grade, required: true}`) is bound to a fact of the same source;
- a fact that names an agency as its source is something that agency sends (a status, a guardian fact or
  an attribute), else nothing would ever set it;
- a special group names a status some source sends.
Unknown names get a "did you mean". A fact may only name a source declared here (or the roster, the
school, the application), so a rule set with agency facts cannot forget its sources; a published set from
before rule sets named their sources loads with an empty vocabulary (it is loaded back for replay only).
"""

from __future__ import annotations

from typing import Any

from .loader_checks import RuleChecks
from .suggest import did_you_mean
from .vocabulary import REACHES, SOURCE_KINDS, Attribute, Group, Source, Status, Vocabulary
from .where import Where
from .yamlsrc import YMap


class VocabularySections(RuleChecks):
    """Builds `sources` and `special_groups` into the rule set's `Vocabulary`."""

    def _build_vocabulary(self) -> Vocabulary:
        sources = tuple(
            source
            for source_id, (value, file, line) in self.sections["sources"].items()
            if (source := self._source(source_id, value, file, line)) is not None
        )
        self._check_unsent_facts(sources)
        return Vocabulary(sources, self._groups(sources))

    def _source(self, source_id: str, value: Any, file: str, line: int) -> Source | None:
        what = f"source '{source_id}'"
        spec = self.fields(
            value, file, line, what, {"label", "statuses"}, {"kind", "description", "basis", "report_label"}
        )
        if spec is None or not self.ident(source_id, file, line, "source"):
            return None
        kind = spec.get("kind", "agency")
        if kind not in SOURCE_KINDS:
            self.error(
                file, self.line_of(spec, "kind"), f"{what}: kind must be one of {', '.join(SOURCE_KINDS)}"
            )
            return None
        raw = spec["statuses"]
        if not isinstance(raw, YMap) or not raw:
            self.error(
                file,
                self.line_of(spec, "statuses"),
                f"{what}: statuses is a mapping of status -> how it reaches",
            )
            return None
        statuses = tuple(
            status
            for name, body in raw.items()
            if (status := self._status(source_id, kind, name, body, file, raw.key_lines[name])) is not None
        )
        label = self.text(spec, "label", file, what)
        if not label:
            self.error(file, self.line_of(spec, "label"), f"{what}: label is required text")
        report_label = self.text(spec, "report_label", file, what)
        return Source(
            source_id,
            label,
            str(kind),
            statuses,
            Where(file, line),
            report_label or "",
            self.basis(spec, file, what),
        )

    def _status(self, source_id: str, kind: str, name: str, body: Any, file: str, line: int) -> Status | None:
        what = f"status '{name}' of source '{source_id}'"
        spec = self.fields(body, file, line, what, {"reaches"}, {"guardian", "attributes", "label", "basis"})
        if spec is None:
            return None
        ok = self._own_fact(name, source_id, kind, file, line, what, bool_only=True)
        if kind == "declared" and ok:
            ok = self._declarable(name, spec, file, line, what)
        reaches = spec["reaches"]
        if reaches not in REACHES:
            self.error(
                file, self.line_of(spec, "reaches"), f"{what}: reaches must be one of {', '.join(REACHES)}"
            )
            ok = False
        guardian = spec.get("guardian")
        if guardian is not None:
            where = self.line_of(spec, "guardian")
            if reaches != "person":
                self.error(
                    file,
                    where,
                    f"{what}: only a personal status gives a guardian fact (a household one reaches the student itself)",
                )
                ok = False
            ok = (
                self._own_fact(
                    str(guardian), source_id, kind, file, where, f"{what}: guardian", bool_only=True
                )
                and ok
            )
        attributes = self._attributes(
            source_id, kind, spec.get("attributes"), file, self.line_of(spec, "attributes"), what
        )
        if not ok or attributes is None:
            return None
        return Status(
            name,
            source_id,
            str(reaches),
            None if guardian is None else str(guardian),
            attributes,
            Where(file, line),
            self.text(spec, "label", file, what) or "",
            self.basis(spec, file, what),
        )

    def _declarable(self, name: str, spec: YMap, file: str, line: int, what: str) -> bool:
        """A declared status is one an agency sends in Jiangsu, reaching as it does there, with no guardian
        fact or attributes (a document proves the status, nothing more); it counts as the Jiangsu one."""
        agency = self.facts[name].source
        sent = self.sections["sources"].get(agency)
        spec_of_agency = sent[0] if sent is not None and isinstance(sent[0], YMap) else None
        body = spec_of_agency.get("statuses", {}).get(name) if spec_of_agency is not None else None
        if (
            spec_of_agency is None
            or not isinstance(body, YMap)
            or spec_of_agency.get("kind", "agency") != "agency"
        ):
            self.error(
                file, line, f"{what}: a declared status must be a status an agency sends; '{name}' is not"
            )
            return False
        if spec["reaches"] != body.get("reaches"):
            self.error(
                file,
                self.line_of(spec, "reaches"),
                f"{what}: reaches must be as the agency's status ({body.get('reaches')})",
            )
            return False
        if "guardian" in spec or "attributes" in spec:
            self.error(file, line, f"{what}: a declared status carries no guardian fact or attributes")
            return False
        return True

    def _attributes(
        self, source_id: str, kind: str, raw: Any, file: str, line: int, what: str
    ) -> tuple[Attribute, ...] | None:
        if raw is None:
            return ()
        if not isinstance(raw, YMap):
            self.error(file, line, f"{what}: attributes is a mapping of name -> {{fact, required}}")
            return None
        out: list[Attribute] = []
        for name, body in raw.items():
            at = raw.key_lines[name]
            spec = self.fields(body, file, at, f"{what}: attribute '{name}'", {"fact"}, {"required"})
            if spec is None or not self.ident(name, file, at, "attribute"):
                return None
            required = spec.get("required", False)
            if not isinstance(required, bool):
                self.error(
                    file,
                    self.line_of(spec, "required"),
                    f"{what}: attribute '{name}': required must be true or false",
                )
                return None
            fact = str(spec["fact"])
            if not self._own_fact(
                fact, source_id, kind, file, self.line_of(spec, "fact"), f"{what}: attribute '{name}'"
            ):
                return None
            out.append(Attribute(name, fact, required))
        return tuple(out)

    def _own_fact(
        self,
        fact: str,
        source_id: str,
        kind: str,
        file: str,
        line: int,
        what: str,
        *,
        bool_only: bool = False,
    ) -> bool:
        """`fact` is in the catalogue, (for an agency) names this source, and is boolean when it must be."""
        spec = self.facts.get(fact)
        if spec is None:
            if fact not in self.sections["facts"]:  # a broken fact was reported already
                self.error(file, line, f"{what}: unknown fact '{fact}'" + did_you_mean(fact, self.facts))
            return False
        if kind == "agency" and spec.source != source_id:
            self.error(
                file, line, f"{what}: fact '{fact}' says its source is '{spec.source}', not '{source_id}'"
            )
            return False
        if bool_only and spec.type != "bool":
            self.error(file, line, f"{what}: fact '{fact}' must be a bool (a status is held or not)")
            return False
        return True

    def _check_unsent_facts(self, sources: tuple[Source, ...]) -> None:
        """A fact naming an agency as its source must be something that agency sends."""
        sent: dict[str, set[str]] = {}
        for source in sources:
            names = sent.setdefault(source.id, set())
            for status in source.statuses:
                names.add(status.name)
                names.update(a.fact for a in status.attributes)
                if status.guardian_fact:
                    names.add(status.guardian_fact)
        for fact in self.facts.values():
            if fact.source in sent and fact.name not in sent[fact.source] and fact.where is not None:
                self.error(
                    fact.where.file,
                    fact.where.line,
                    f"fact '{fact.name}': source '{fact.source}' sends no such status, guardian fact or "
                    "attribute (see sources.yaml)",
                )

    def _groups(self, sources: tuple[Source, ...]) -> tuple[Group, ...]:
        sendable = {status.name for source in sources for status in source.statuses}
        groups: list[Group] = []
        seen: set[str] = set()
        for value, file, line in self.ordered["special_groups"]:
            spec = self.fields(value, file, line, "special group", {"status", "label"}, set())
            if spec is None:
                continue
            status = str(spec["status"])
            if status not in sendable:
                self.error(
                    file,
                    self.line_of(spec, "status"),
                    f"special group '{status}': no source sends this status" + did_you_mean(status, sendable),
                )
                continue
            if status in seen:
                self.error(file, line, f"duplicate special group '{status}'")
                continue
            seen.add(status)
            label = self.text(spec, "label", file, f"special group '{status}'")
            groups.append(Group(status, label or status, Where(file, line)))
        return tuple(groups)
