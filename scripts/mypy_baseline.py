"""mypy as a gate that only tightens: no error beyond the committed baseline (scripts/mypy-baseline.txt).

`make lint` runs `python scripts/mypy_baseline.py`. It runs mypy over aidservice (configuration in
pyproject.toml [tool.mypy]), counts the errors by file and error code, and compares the counts with the
baseline, which holds one line `file code count` for every pair with errors. Line numbers are left out on
purpose: an edit above an old error moves it without making it new.

- A pair whose count is above the baseline (or not in it) is a new error: every mypy line of that pair is
  printed and the script exits 1. Fix it; a targeted `# type: ignore[code]` with a reason is the last resort.
- A pair whose count is below the baseline means errors were fixed: the script says so and that
  `--update` would shrink the baseline, and passes.
- `--update` rewrites the baseline with the current counts, but only downward: it refuses while any pair is
  new or above its count.
- `--update --moved` is for commits that move code between files (splitting a module, a rename): a pair may
  then appear under its new file, provided that for every error code the total does not grow.
- Without a baseline file, `--update` writes the first one from the current errors.

Exit status: 0 kept, 1 new errors (or refused update), 2 mypy itself failed (configuration, syntax, crash).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scripts" / "mypy-baseline.txt"
TARGETS = ["aidservice"]
MYPY_FLAGS = ["--no-error-summary", "--show-error-codes", "--no-pretty", "--no-color-output"]
HEADER = """\
# mypy errors that `make lint` still tolerates (scripts/mypy_baseline.py): file, error code, count.
# It only shrinks: fix errors, then `.venv/bin/python scripts/mypy_baseline.py --update`.
"""

ERROR_LINE = re.compile(r"^(?P<path>[^:\s][^:]*):\d+(?::\d+)?: error: .*?(?:  \[(?P<code>[a-z0-9-]+)\])?$")

Key = tuple[str, str]


def parse_errors(output: str) -> dict[Key, list[str]]:
    """mypy's error lines grouped by (file, error code); notes and summaries are not errors."""
    errors: dict[Key, list[str]] = {}
    for line in output.splitlines():
        match = ERROR_LINE.match(line)
        if match:
            key = (Path(match["path"]).as_posix(), match["code"] or "no-code")
            errors.setdefault(key, []).append(line)
    return errors


def read_baseline(path: Path) -> Counter[Key]:
    """The committed counts; a missing file is an empty baseline."""
    counts: Counter[Key] = Counter()
    if not path.exists():
        return counts
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            file, code, count = line.split()
            counts[(file, code)] = int(count)
    return counts


def format_baseline(counts: Counter[Key]) -> str:
    """The baseline file's text: the header, then one sorted line per pair with errors."""
    lines = [f"{file} {code} {count}" for (file, code), count in sorted(counts.items()) if count > 0]
    return HEADER + "".join(line + "\n" for line in lines)


def grown(current: Counter[Key], baseline: Counter[Key]) -> list[Key]:
    """The pairs with more errors than the baseline allows."""
    return sorted(key for key, count in current.items() if count > baseline[key])


def shrunk(current: Counter[Key], baseline: Counter[Key]) -> list[Key]:
    """The pairs with fewer errors than the baseline holds (fixed, or their file moved or went)."""
    return sorted(key for key, count in baseline.items() if current[key] < count)


def grown_codes(current: Counter[Key], baseline: Counter[Key]) -> list[str]:
    """The error codes whose total over all files grew: what a move of code cannot explain."""
    totals_now: Counter[str] = Counter()
    totals_before: Counter[str] = Counter()
    for (_file, code), count in current.items():
        totals_now[code] += count
    for (_file, code), count in baseline.items():
        totals_before[code] += count
    return sorted(code for code, count in totals_now.items() if count > totals_before[code])


def run_mypy() -> str:
    """mypy's output over TARGETS; exits 2 when mypy failed rather than finding errors."""
    command = [sys.executable, "-m", "mypy", *MYPY_FLAGS, *TARGETS]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode not in (0, 1):
        sys.stderr.write(proc.stdout + proc.stderr)
        sys.exit(f"mypy failed (status {proc.returncode}): {' '.join(command)}")
    return proc.stdout


def report_grown(errors: dict[Key, list[str]], current: Counter[Key], baseline: Counter[Key]) -> None:
    """Print every mypy line of the pairs above the baseline, under the pair and its counts."""
    for key in grown(current, baseline):
        print(f"new: {key[0]} [{key[1]}] {current[key]} errors, baseline {baseline[key]}:")
        for line in errors[key]:
            print(f"    {line}")


def check(errors: dict[Key, list[str]], current: Counter[Key], baseline: Counter[Key]) -> int:
    """The gate: 1 when a pair grew; says when the baseline could shrink."""
    total, allowed = sum(current.values()), sum(baseline.values())
    if grown(current, baseline):
        report_grown(errors, current, baseline)
        print(f"mypy: new errors beyond {BASELINE.relative_to(ROOT)} ({total} errors, baseline {allowed}).")
        return 1
    fixed = shrunk(current, baseline)
    if fixed:
        print(f"mypy: {allowed - total} fewer errors than the baseline in {len(fixed)} file/code pairs;")
        print("      shrink it: .venv/bin/python scripts/mypy_baseline.py --update")
    else:
        print(f"mypy: {total} errors, as in the baseline.")
    return 0


def refusals(current: Counter[Key], baseline: Counter[Key], *, moved: bool) -> tuple[str, list[str]]:
    """Why the baseline may not become the current counts: what grew (per code with moved), or nothing."""
    if moved:
        return "error codes whose total grew", grown_codes(current, baseline)
    pairs = [f"{file} [{code}]" for file, code in grown(current, baseline)]
    return "file/code pairs above the baseline (code moved between files? --update --moved)", pairs


def update(current: Counter[Key], baseline: Counter[Key], *, moved: bool) -> int:
    """Rewrite the baseline downward (the first one from scratch); 1 and the reasons when refused."""
    what, refused = refusals(current, baseline, moved=moved) if BASELINE.exists() else ("", [])
    if refused:
        print(f"mypy: baseline not updated, {what}:")
        for item in refused:
            print(f"    {item}")
        return 1
    BASELINE.write_text(format_baseline(current), encoding="utf-8")
    print(f"mypy: baseline {sum(baseline.values())} -> {sum(current.values())} errors.")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run mypy, then check or update."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="rewrite the baseline, only downward")
    parser.add_argument(
        "--moved", action="store_true", help="with --update: errors may change file if no code's total grows"
    )
    args = parser.parse_args(argv)
    if args.moved and not args.update:
        parser.error("--moved goes with --update")
    errors = parse_errors(run_mypy())
    current = Counter({key: len(lines) for key, lines in errors.items()})
    baseline = read_baseline(BASELINE)
    if args.update:
        return update(current, baseline, moved=args.moved)
    return check(errors, current, baseline)


if __name__ == "__main__":
    sys.exit(main())
