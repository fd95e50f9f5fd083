"""scripts/check_lock.py: the committed lock agrees with pyproject.toml, and a tampered copy is caught."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import check_lock

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of pyproject.toml and requirements/ to tamper with."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(ROOT / "requirements", tmp_path / "requirements")
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}: the test's anchor moved"
    path.write_text(text.replace(old, new, 1))


def test_the_committed_lock_agrees_with_pyproject():
    assert check_lock.check(ROOT) == []


def test_every_locked_entry_has_a_pinned_version_and_hashes():
    entries = check_lock.parse_lock((ROOT / "requirements/test.txt").read_text())
    assert {"werkzeug", "jinja2", "apispec", "webargs", "flask", "pytest"} <= set(entries)
    assert all(entry.version and entry.hashes >= 1 for entry in entries.values())


def test_a_new_dependency_missing_from_the_lock_fails(checkout: Path):
    _edit(checkout / "pyproject.toml", '"flask==3.1.3",', '"flask==3.1.3",\n    "humanize==4.12.0",')
    problems = check_lock.check(checkout)
    assert any("humanize" in p and "runtime.txt" in p and "not in the lock" in p for p in problems)
    assert any("humanize" in p and "test.txt" in p for p in problems)


def test_a_new_test_extra_missing_from_test_lock_fails_and_runtime_is_untouched(checkout: Path):
    _edit(checkout / "pyproject.toml", '"pytest==9.2.0",', '"pytest==9.2.0",\n    "freezegun==1.5.1",')
    problems = check_lock.check(checkout)
    assert problems and all("test.txt" in p and "freezegun" in p for p in problems)


def test_a_pin_moved_in_pyproject_but_not_in_the_lock_fails(checkout: Path):
    _edit(checkout / "pyproject.toml", '"flask==3.1.3"', '"flask==3.1.4"')
    problems = check_lock.check(checkout)
    assert any("flask is locked at 3.1.3" in p and "==3.1.4" in p for p in problems)


def test_a_dependency_dropped_from_pyproject_leaves_unreached_entries(checkout: Path):
    _edit(checkout / "pyproject.toml", '    "zxcvbn==4.5.0",', "")
    problems = check_lock.check(checkout)
    assert any("zxcvbn==4.5.0 is reached by no dependency" in p for p in problems)


def test_an_entry_without_hashes_or_differing_between_the_two_locks_fails(checkout: Path):
    lock = checkout / "requirements/runtime.txt"
    text = lock.read_text()
    start = text.index("\nflask==3.1.3 \\\n") + 1
    end = text.index("    # via", start)
    lock.write_text(text[:start] + "flask==3.1.3\n" + text[end:])
    problems = check_lock.check(checkout)
    assert "requirements/runtime.txt: flask==3.1.3 has no --hash" in problems

    _edit(lock, "flask==3.1.3\n", "flask==3.1.2\n")
    assert any(
        "flask is locked at 3.1.2 in runtime.txt but 3.1.3 in test.txt" in p
        for p in check_lock.check(checkout)
    )


def test_the_script_exits_nonzero_and_names_make_lock(checkout: Path):
    _edit(checkout / "pyproject.toml", '"flask==3.1.3",', '"flask==3.1.3",\n    "humanize==4.12.0",')
    shutil.copytree(ROOT / "scripts", checkout / "scripts")
    run = subprocess.run(
        [sys.executable, str(checkout / "scripts/check_lock.py")], capture_output=True, text=True, check=False
    )
    assert run.returncode == 1
    assert "humanize" in run.stderr and "make lock" in run.stderr
