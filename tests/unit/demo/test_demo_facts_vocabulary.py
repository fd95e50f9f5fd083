"""The synthetic facts frame follows a rule set's vocabulary: the shipped one changes nothing, a new status
gets a column of its own, a status the rules drop is left out."""

from __future__ import annotations

from dataclasses import replace

from aidservice.demo.facts import generate_facts
from aidservice.engine.vocabulary import Vocabulary
from tests.world.vocabulary import shipped_rules


def _with_sources(vocabulary: Vocabulary, change: dict[str, tuple]) -> Vocabulary:
    sources = tuple(replace(s, statuses=change[s.id]) if s.id in change else s for s in vocabulary.sources)
    return Vocabulary(sources, vocabulary.groups)


def test_the_shipped_vocabulary_gives_the_same_frame_as_none() -> None:
    assert generate_facts(3000, seed=4, vocabulary=shipped_rules().vocabulary).equals(
        generate_facts(3000, seed=4)
    )


def test_a_status_the_rules_add_gets_a_column_and_the_others_keep_their_values() -> None:
    shipped = shipped_rules().vocabulary
    civil = shipped.source("civil_affairs")
    assert civil is not None
    marginal = replace(civil.statuses[0], name="subsistence_marginal")
    frame = generate_facts(
        4000, seed=2, vocabulary=_with_sources(shipped, {"civil_affairs": (*civil.statuses, marginal)})
    )
    assert frame.columns[-1] == "subsistence_marginal" and 0 < frame["subsistence_marginal"].sum() < 100
    assert frame.drop("subsistence_marginal").equals(generate_facts(4000, seed=2))


def test_a_status_the_rules_drop_is_left_out() -> None:
    shipped = shipped_rules().vocabulary
    veterans = shipped.source("veterans_affairs")
    assert veterans is not None
    frame = generate_facts(100, seed=1, vocabulary=_with_sources(shipped, {"veterans_affairs": ()}))
    assert "martyr_child" not in frame.columns and "orphan" in frame.columns
