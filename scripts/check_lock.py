"""The lock (requirements/*.txt) agrees with pyproject.toml: a fast, offline gate run by `make lint`.

`make lock` compiles requirements/runtime.txt (project.dependencies) and requirements/test.txt (the same plus
the `test` extra) with pip-compile --generate-hashes; `make install` installs from test.txt with
--require-hashes. This script fails (exit 1) when a lock no longer matches pyproject.toml:

- a dependency of pyproject (runtime, or the test extra for test.txt) missing from the lock, or locked at a
  version its specifier does not allow (an edited pin, a new dependency not compiled yet);
- a lock entry that nothing reaches: its `# via` lines name neither `aidservice (pyproject.toml)` as a
  current dependency nor another entry of the same lock (a dependency dropped from pyproject);
- an entry without a hash or pinned with something other than `==`;
- a package locked at two different versions in runtime.txt and test.txt (a partial `make lock`).

It reads only the files: no index, no network, no installed metadata. Run `make lock` to fix what it reports.
"""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "aidservice"
SELF_VIA = f"{PROJECT} (pyproject.toml)"
LOCKS = {"requirements/runtime.txt": (), "requirements/test.txt": ("test",)}

_ENTRY = re.compile(r"^(?P<spec>[A-Za-z0-9][^\s\\]*)")
_VIA_ONE = re.compile(r"^\s*# via (?P<name>.+)$")
_VIA_HEAD = re.compile(r"^\s*# via\s*$")
_VIA_MORE = re.compile(r"^\s*#   (?P<name>.+)$")


@dataclass
class Entry:
    name: str
    version: str | None
    line: str
    hashes: int = 0
    via: list[str] = field(default_factory=list)


def parse_lock(text: str) -> dict[str, Entry]:
    """The entries of a pip-compile output: name -> pinned version, hash count and `# via` parents."""
    entries: dict[str, Entry] = {}
    current: Entry | None = None
    in_via = False
    for raw in text.splitlines():
        entry = _ENTRY.match(raw)
        if entry:
            spec = entry.group("spec")
            name, sep, version = spec.partition("==")
            current = Entry(canonicalize_name(name.split("[")[0]), version if sep else None, spec)
            entries[current.name] = current
            in_via = False
            continue
        if current is None:
            continue
        if "--hash=" in raw:
            current.hashes += raw.count("--hash=")
        elif one := _VIA_ONE.match(raw):
            current.via.append(one.group("name").strip())
            in_via = False
        elif _VIA_HEAD.match(raw):
            in_via = True
        elif in_via and (more := _VIA_MORE.match(raw)):
            current.via.append(more.group("name").strip())
        else:
            in_via = False
    return entries


def wanted(pyproject: dict[str, object], extras: tuple[str, ...]) -> list[str]:
    project = pyproject.get("project")
    assert isinstance(project, dict), "pyproject.toml has no [project] table"
    found = list(project.get("dependencies", []))
    optional = project.get("optional-dependencies", {})
    for extra in extras:
        found += list(optional.get(extra, []))
    return found


def _via_name(via: str) -> str:
    if via == SELF_VIA:
        return via
    return canonicalize_name(via.split(" ")[0].split("[")[0])


def problems_in(lock_name: str, entries: dict[str, Entry], requirements: list[str]) -> list[str]:
    problems: list[str] = []
    direct: set[str] = set()
    for text in requirements:
        try:
            req = Requirement(text)
        except InvalidRequirement as error:
            problems.append(f"pyproject.toml: cannot read the requirement {text!r}: {error}")
            continue
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue  # not for this platform: the lock is compiled for this one (see its header)
        name = canonicalize_name(req.name)
        direct.add(name)
        entry = entries.get(name)
        if entry is None:
            problems.append(f"{lock_name}: {req.name} (pyproject.toml: {text!r}) is not in the lock")
        elif entry.version is not None and not req.specifier.contains(entry.version, prereleases=True):
            problems.append(
                f"{lock_name}: {req.name} is locked at {entry.version}, pyproject.toml asks for {req.specifier}"
            )
        # psycopg[binary] locks psycopg-binary `# via psycopg`: an extra must bring at least one entry
        if (
            req.extras
            and entry is not None
            and not any(name in map(_via_name, e.via) for e in entries.values())
        ):
            problems.append(f"{lock_name}: nothing in the lock comes from {text!r}'s extras")
    for entry in entries.values():
        if entry.version is None:
            problems.append(f"{lock_name}: {entry.line} is not pinned with ==")
        if entry.hashes == 0:
            problems.append(f"{lock_name}: {entry.name}=={entry.version} has no --hash")
    reachable = {name for name, entry in entries.items() if name in direct and SELF_VIA in entry.via}
    changed = True
    while changed:
        changed = False
        for name, entry in entries.items():
            if name not in reachable and any(_via_name(via) in reachable for via in entry.via):
                reachable.add(name)
                changed = True
    for name in sorted(set(entries) - reachable):
        problems.append(
            f"{lock_name}: {name}=={entries[name].version} is reached by no dependency of pyproject.toml "
            f"(via: {', '.join(entries[name].via) or 'nothing'})"
        )
    return problems


def check(root: Path = ROOT) -> list[str]:
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    problems: list[str] = []
    parsed: dict[str, dict[str, Entry]] = {}
    for lock_name, extras in LOCKS.items():
        path = root / lock_name
        if not path.is_file():
            problems.append(f"{lock_name} does not exist: run `make lock`")
            continue
        parsed[lock_name] = parse_lock(path.read_text())
        problems += problems_in(lock_name, parsed[lock_name], wanted(pyproject, extras))
    if len(parsed) == 2:
        runtime, test = parsed.values()
        for name in sorted(set(runtime) & set(test)):
            if runtime[name].version != test[name].version:
                problems.append(
                    f"{name} is locked at {runtime[name].version} in runtime.txt but {test[name].version} in test.txt"
                )
    return problems


def main() -> int:
    problems = check()
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(
            "the lock and pyproject.toml disagree: run `make lock` (README, 'Dependencies')", file=sys.stderr
        )
        return 1
    print("lock: requirements/runtime.txt and requirements/test.txt agree with pyproject.toml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
