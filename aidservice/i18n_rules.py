"""The rules' labels that pages translate (agency sources, stages, special groups), for the catalogue.

`rule_labels` lists them; `extract_rule_labels` is the Babel extraction method babel.cfg maps to
rules/sources.yaml ([extractors] rules), so `pybabel extract` (`make messages`) puts the shipped rules' labels into messages.pot
beside the texts of the code and the templates.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from aidservice.engine import RuleSet, load_rules

DECLARED = "application"
"""The source of the yes/no facts the application form asks (web.forms.application_form), labelled by the rules."""


def rule_labels(rules: RuleSet) -> list[str]:
    """The labels the pages translate: each source's, stage's and special group's (web.ui) and each yes/no fact's
    the application declares (apply.html), in that order."""
    stage = rules.facts.get("stage")
    stages = [stage.label_of(value) for value in stage.values] if stage is not None and stage.values else []
    sources = [source.label for source in rules.vocabulary.sources]
    declared = [s.label for s in rules.facts.values() if s.type == "bool" and s.source == DECLARED]
    return list(dict.fromkeys([*sources, *stages, *rules.vocabulary.group_labels.values(), *declared]))


def extract_rule_labels(
    fileobj: IO[bytes],
    keywords: Mapping[str, Any] | Collection[str],
    comment_tags: Collection[str],
    options: Any,
) -> Iterator[tuple[int, str | None, str, list[str]]]:
    """Babel's extraction method: the labels of the rule set in the folder of `fileobj` (rules/sources.yaml)."""
    folder = Path(str(getattr(fileobj, "name", "rules/sources.yaml"))).resolve().parent
    for text in rule_labels(load_rules(folder)):
        if text:
            yield 1, None, text, []
