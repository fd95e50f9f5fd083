"""Load a rules directory strictly: every problem is reported with file:line, nothing is guessed.

A load reads every file into raw sections by id (`_Builder._read`: unknown sections and duplicate ids
are issues), then builds them in dependency order: coverage, documents, facts, parameters
(`loader_declarations`), then the symbol table, derived values, levels, programs and combinations
(`loader_logic`); both builders share the state and field checks of `loader_checks.RuleChecks`.
Any issue found anywhere raises one RulesError listing them all, sorted by file and line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from .loader_checks import LISTED, SECTIONS
from .loader_declarations import DeclarationSections
from .loader_logic import LogicSections
from .loader_procedure import ProcedureSections
from .loader_vocabulary import VocabularySections
from .model import Rules
from .yamlsrc import RuleIssue, YList, YMap, load_text


class RulesError(Exception):
    """A rule set that cannot be loaded; `issues` lists every problem found."""

    def __init__(self, issues: list[RuleIssue]) -> None:
        self.issues = sorted(issues, key=lambda i: (i.file, i.line, i.message))
        super().__init__("\n".join(str(i) for i in self.issues))


def rule_files(root: Path) -> list[Path]:
    """The files that make up a rule set (tests are not part of it)."""
    return sorted(p for p in root.rglob("*.yaml") if "tests" not in p.relative_to(root).parts[:1])


def version_of(texts: Mapping[str, str]) -> str:
    """Content hash over the rule files in path order: the same files give the same version anywhere."""
    digest = hashlib.sha256()
    for rel in sorted(texts):
        digest.update(rel.encode() + b"\0" + texts[rel].encode("utf-8") + b"\0")
    return "sha256:" + digest.hexdigest()[:16]


def load(root: str | Path) -> Rules:
    """Read, validate and link a rules directory into `Rules`, or raise RulesError."""
    root = Path(root)
    if not root.is_dir():
        raise RulesError([RuleIssue(str(root), 0, "rules directory not found")])
    files = rule_files(root)
    if not files:
        raise RulesError([RuleIssue(str(root), 0, "no rule files (*.yaml) found")])
    texts: dict[str, str] = {}
    issues: list[RuleIssue] = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        try:
            texts[rel] = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            issues.append(RuleIssue(f"{root.name}/{rel}", 1, f"not UTF-8 text: {exc.reason}"))
    if issues:
        raise RulesError(issues)
    return load_texts(texts, root.name)


def load_texts(texts: Mapping[str, str], name: str = "rules", *, published: bool = False) -> Rules:
    """Build `Rules` from {relative path: text}: how a published rule set is loaded back for replay.

    `published`: the texts are a set the service ran before (the `rule_sets` table). Sets published before
    rule sets declared a coverage have none; they evaluated whatever date they were asked, so they load with
    an unbounded coverage, and replay asks them again only for the dates their decisions recorded.
    """
    rule_texts = {
        rel: text for rel, text in texts.items() if rel.endswith(".yaml") and not rel.startswith("tests/")
    }
    if not rule_texts:
        raise RulesError([RuleIssue(name, 0, "no rule files (*.yaml) found")])
    return _built(name, tuple(rule_texts.items()), published)


@lru_cache(maxsize=16)
def _built(name: str, texts: tuple[tuple[str, str], ...], published: bool) -> Rules:
    """The same texts build the same (immutable) `Rules`: a process builds each set once, however many apps,
    replays or what-if runs load it. Keyed by the whole texts, not their digest; a set with problems raises
    every time (nothing is cached for it)."""
    rule_texts = dict(texts)
    return _Builder(name, rule_texts, version_of(rule_texts), published=published).build()


class _Builder(DeclarationSections, VocabularySections, LogicSections, ProcedureSections):
    """One load: read every file into raw sections, then build them in dependency order."""

    def build(self) -> Rules:
        for rel, text in self.texts.items():
            self._read(rel, text)
        coverage = self._build_coverage()
        self._build_documents()
        self._build_facts()
        vocabulary = self._build_vocabulary()
        self._build_parameters()
        self._build_symbols()
        self._build_derived()
        clauses, labels = self._build_levels()
        programs = self._build_programs()
        combinations = self._build_combinations(set(self.sections["programs"]))
        procedure = self._build_procedure()
        if self.issues or coverage is None:
            raise RulesError(self.issues)
        return Rules(
            version=self.version,
            documents=self.documents,
            facts=self.facts,
            parameters=self.parameters,
            derived=self.derived,
            clauses=tuple(clauses),
            level_labels=labels,
            programs=tuple(programs),
            combinations=tuple(combinations),
            coverage=coverage,
            files=self.texts,
            vocabulary=vocabulary,
            procedure=procedure,
        )

    def _read(self, rel: str, text: str) -> None:
        display = f"{self.name}/{rel}"
        try:
            top = load_text(text, display)
        except RuleIssue as issue:
            self.issues.append(issue)
            self.unreadable.append(display)
            return
        if not isinstance(top, YMap):
            self.issues.append(
                RuleIssue(display, 1, f"a rules file is a mapping of sections ({', '.join(SECTIONS)})")
            )
            return
        for section, body in top.items():
            line = top.key_lines[section]
            if section not in SECTIONS:
                self.error(display, line, f"unknown section '{section}' (allowed: {', '.join(SECTIONS)})")
                continue
            if section in ("coverage", "procedure"):
                self.ordered[section].append((body, display, line))
                continue
            if section in LISTED:
                if not isinstance(body, YList):
                    self.error(display, line, f"{section} is a list")
                    continue
                self.ordered[section] += [
                    (item, display, ln) for item, ln in zip(body, body.item_lines, strict=True)
                ]
                continue
            if not isinstance(body, YMap):
                self.error(display, line, f"{section} is a mapping of id -> definition")
                continue
            for key, value in body.items():
                key_line = body.key_lines[key]
                seen = self.sections[section].get(key)
                if seen is not None:
                    self.error(
                        display,
                        key_line,
                        f"duplicate {section[:-1] if section != 'derived' else 'derived value'} id '{key}' (first at {seen[1]}:{seen[2]})",
                    )
                    continue
                self.sections[section][key] = (value, display, key_line)
