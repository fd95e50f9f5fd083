"""The rules page speaks Chinese: each condition as a sentence from the rule, the expression behind a toggle,
and citations as 文号《标题》 with the clause."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask.testing import FlaskClient

from aidservice.engine.sentences import sentence
from tests.web.test_no_raw_codes import assert_clean, vocabulary_codes
from tests.world import web as w
from tests.world.vocabulary import shipped_rules


def test_each_condition_is_a_sentence_with_the_expression_behind_a_toggle(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    page = as_user("officer1").get("/rules").get_data(as_text=True)
    rules = shipped_rules().rules
    for clause in rules.clauses:
        row = re.search(rf"<th scope=\"row\">{re.escape(clause.label)}</th>.*?</tr>", page, re.S)
        assert row is not None, clause.id
        cell = re.search(r'<td class="condition">(.*?)<details class="expr">', row.group(0), re.S)
        assert cell is not None and cell.group(1) == sentence(clause.when, rules), clause.id
    program = rules.programs[0]
    assert sentence(program.when, rules) in page
    assert_clean(page, "/rules", vocabulary_codes())


def test_citations_name_the_document_number_and_title_not_a_path(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    page = as_user("officer1").get("/rules").get_data(as_text=True)
    documents = shipped_rules().rules.documents
    numbered = documents["jyb_2018_16"]
    assert f"{numbered.number}《{numbered.title}》 认定依据（特殊群体因素）" in page
    unnumbered = documents["jiangsu_2020_plan"]
    assert f"《{unnumbered.title}》 第33项" in page and f"无文号《{unnumbered.title}》" not in page
    basis = " ".join(re.findall(r'<td class="basis">(.*?)</td>', page, re.S))
    assert ".yaml" not in basis and "jyb_2018_16" not in basis
