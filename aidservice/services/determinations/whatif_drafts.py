"""Where a what-if's draft rules come from: a draft folder kept on the server, or an uploaded ZIP of one.

A province's rules are edited by its policy staff in a rules repository and reviewed there; the reviewed
drafts are deployed to the server next to the running rules, one folder per draft under the drafts
directory (AID_DRAFT_RULES_DIR, default `instance/drafts/<name>`). That is the normal way: an
administrator picks a draft by name. For a quick trial, an administrator may instead upload a ZIP of a
rules folder; it is read with bounds and trusting nothing in it:

- the archive at most `ZipLimits.max_bytes`, at most `max_entries` entries, `max_depth` folders deep, at
  most `max_inflated` bytes once inflated (counted while reading, the sizes the archive states are not
  believed);
- entry names are checked before anything is written: no absolute path, no drive, no backslash, no `..`
  or `.` component, no hidden component; only `.yaml`/`.yml` files (folders and `__MACOSX/` are skipped);
- one top folder holding everything (a zipped folder) is stripped.

The files are written into a fresh temporary folder and loaded there; the folder is removed afterwards.
A rule set that does not load is a 422 listing every `file:line: reason` under the field.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path, PurePosixPath

from aidservice.engine import RuleSet, load_rules
from aidservice.engine.loader import RulesError
from aidservice.services.errors import NotFound, PayloadTooLarge, ValidationFailed

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
NAME_MESSAGE = "a draft folder's name: letters, digits, '.', '_' or '-' (at most 64), not starting with '.'"
SUFFIXES = (".yaml", ".yml")
STEP = 64 * 1024


@dataclass(frozen=True, slots=True)
class ZipLimits:
    max_bytes: int = 2 * 1024 * 1024
    max_entries: int = 200
    max_depth: int = 4
    max_inflated: int = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Draft:
    """A draft folder on the server: its name and when it was last changed."""

    name: str
    modified: datetime


def list_drafts(root: str | Path) -> list[Draft]:
    """The draft folders under `root` (none when it does not exist), by name."""
    base = Path(root)
    if not base.is_dir():
        return []
    found = []
    for child in sorted(base.iterdir()):
        if child.is_dir() and not child.is_symlink() and NAME.match(child.name):
            found.append(Draft(child.name, datetime.fromtimestamp(child.stat().st_mtime, UTC)))
    return found


def draft_folder(root: str | Path, name: str) -> Path:
    """The folder of draft `name` under `root`: 422 for a name that is not one, 404 when there is none."""
    if not NAME.match(name):
        raise ValidationFailed({"draft": [NAME_MESSAGE]})
    folder = Path(root) / name
    if not folder.is_dir() or folder.is_symlink():
        raise NotFound(f"No draft named {name} on this server.")
    return folder


def load_folder(folder: str | Path, *, field: str = "draft") -> RuleSet:
    """The rule set in `folder`, or a 422 listing every `file:line: reason` under `field`."""
    try:
        return load_rules(folder)
    except RulesError as exc:
        issues = getattr(exc, "issues", None)
        found = [str(issue) for issue in issues] if issues else str(exc).splitlines()
        lines = [_relative(line, str(folder)) for line in found]
        raise ValidationFailed(
            {field: lines}, f"The draft rules cannot be loaded: {len(lines)} problem(s)."
        ) from None


def load_zip(data: bytes, limits: ZipLimits | None = None, *, field: str = "file") -> RuleSet:
    """The rule set in an uploaded ZIP of a rules folder (module docstring: bounds and checks)."""
    with tempfile.TemporaryDirectory(prefix="aid-draft-") as temp:
        unpack(data, Path(temp), limits or ZipLimits(), field=field)
        return load_folder(temp, field=field)


def unpack(data: bytes, target: Path, limits: ZipLimits, *, field: str = "file") -> int:
    """Write the archive's YAML files under `target` after checking every name; returns how many."""
    if len(data) > limits.max_bytes:
        raise PayloadTooLarge(
            f"The rules archive is over {limits.max_bytes} bytes.",
            {field: [f"over {limits.max_bytes} bytes"]},
        )
    try:
        archive = zipfile.ZipFile(BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise _refused(field, "is not a ZIP archive") from None
    if len(entries) > limits.max_entries:
        raise _refused(field, f"has more than {limits.max_entries} entries")
    files = [(entry, _checked(entry.filename, limits, field)) for entry in entries]
    files = [(entry, parts) for entry, parts in files if parts]
    if not files:
        raise _refused(field, "holds no .yaml file")
    tops = {parts[0] for _entry, parts in files}
    if len(tops) == 1 and all(len(parts) > 1 for _entry, parts in files):
        files = [(entry, parts[1:]) for entry, parts in files]  # a zipped folder: its contents
    inflated = 0
    with archive:
        for entry, parts in files:
            if entry.flag_bits & 0x1:
                raise _refused(field, "is encrypted")
            destination = target.joinpath(*parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            try:
                with archive.open(entry) as source, open(destination, "xb") as out:
                    while piece := source.read(STEP):
                        inflated += len(piece)
                        if inflated > limits.max_inflated:
                            raise _refused(field, f"inflates to more than {limits.max_inflated} bytes")
                        out.write(piece)
            except FileExistsError:
                raise _refused(field, f"has {'/'.join(parts)} twice") from None
            except (zipfile.BadZipFile, zlib.error, NotImplementedError, EOFError, RuntimeError):
                raise _refused(field, "is damaged or uses an unsupported compression") from None
    return len(files)


def _checked(name: str, limits: ZipLimits, field: str) -> tuple[str, ...]:
    """The entry's path components when it is a YAML file to write; () for a folder or macOS metadata."""
    if "\\" in name or "\x00" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise _refused(field, f"names an absolute or Windows path ({name[:80]})")
    path = PurePosixPath(name)
    parts = tuple(p for p in name.split("/") if p)
    if any(p in (".", "..") for p in parts):
        raise _refused(field, f"names a path outside its folder ({name[:80]})")
    if not parts or name.endswith("/") or parts[0] == "__MACOSX":
        return ()
    if any(p.startswith(".") for p in parts):
        raise _refused(field, f"holds a hidden file ({name[:80]})")
    if len(parts) > limits.max_depth:
        raise _refused(field, f"is more than {limits.max_depth} folders deep ({name[:80]})")
    if path.suffix.lower() not in SUFFIXES:
        raise _refused(field, f"holds a file that is not YAML ({name[:80]}); only .yaml and .yml are read")
    return parts


def _refused(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        {field: [f"the rules archive {message}"]}, f"The rules archive {message}; nothing was run."
    )


def _relative(line: str, folder: str) -> str:
    """An issue line with the paths relative to the rules folder (no server or temporary folder in it)."""
    base = Path(folder)
    for prefix in (str(base), base.name):
        if line.startswith(prefix + "/"):
            return line[len(prefix) + 1 :]
    return line.replace(str(base) + "/", "")
