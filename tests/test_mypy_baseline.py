"""scripts/mypy_baseline.py's bookkeeping, without running mypy: parse, compare, refuse to grow."""

from __future__ import annotations

from collections import Counter

from scripts import mypy_baseline as mb

OUTPUT = """\
aidservice/web/jobs.py:26: error: Argument 1 to "list_jobs" has incompatible type "X"; expected "Y"  [arg-type]
aidservice/web/jobs.py:35: error: Argument 1 to "get_job" has incompatible type "X"; expected "Y"  [arg-type]
aidservice/web/jobs.py:35: note: See https://mypy.readthedocs.io/
aidservice/batch.py:173:9: error: "ValueError" has no attribute "msg"  [attr-defined]
aidservice/cli.py:1: error: Something without a code
Found 4 errors in 3 files (checked 151 source files)
"""


def test_errors_are_grouped_by_file_and_code():
    errors = mb.parse_errors(OUTPUT)
    assert {key: len(lines) for key, lines in errors.items()} == {
        ("aidservice/web/jobs.py", "arg-type"): 2,
        ("aidservice/batch.py", "attr-defined"): 1,
        ("aidservice/cli.py", "no-code"): 1,
    }


def test_the_baseline_file_round_trips(tmp_path):
    counts = Counter({("b.py", "arg-type"): 2, ("a.py", "misc"): 1, ("c.py", "index"): 0})
    path = tmp_path / "baseline.txt"
    path.write_text(mb.format_baseline(counts))
    assert mb.read_baseline(path) == Counter({("b.py", "arg-type"): 2, ("a.py", "misc"): 1})
    assert path.read_text().splitlines()[-2:] == ["a.py misc 1", "b.py arg-type 2"]


def test_more_errors_in_a_pair_is_new_and_fewer_can_shrink():
    baseline = Counter({("a.py", "arg-type"): 2, ("b.py", "misc"): 1})
    current = Counter({("a.py", "arg-type"): 3, ("c.py", "index"): 1})
    assert mb.grown(current, baseline) == [("a.py", "arg-type"), ("c.py", "index")]
    assert mb.shrunk(current, baseline) == [("b.py", "misc")]


def test_moved_errors_pass_only_when_no_code_total_grows():
    baseline = Counter({("old.py", "arg-type"): 3})
    split = Counter({("new_a.py", "arg-type"): 2, ("new_b.py", "arg-type"): 1})
    assert mb.refusals(split, baseline, moved=False)[1] == ["new_a.py [arg-type]", "new_b.py [arg-type]"]
    assert mb.refusals(split, baseline, moved=True)[1] == []
    worse = split + Counter({("new_b.py", "arg-type"): 1})
    assert mb.refusals(worse, baseline, moved=True)[1] == ["arg-type"]
