"""Draft rules for a what-if (`whatif_drafts`): server draft folders by name, and an uploaded ZIP read with
bounds and no trust in its paths. No Flask, no database."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from aidservice.services.determinations import whatif_drafts
from aidservice.services.determinations.whatif_drafts import ZipLimits
from aidservice.services.errors import NotFound, PayloadTooLarge, ValidationFailed


def archive(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as made:
        for name, data in entries.items():
            made.writestr(name, data)
    return out.getvalue()


def test_a_zipped_folder_is_unpacked_without_its_top_folder_and_macos_metadata(tmp_path: Path) -> None:
    data = archive({"draft/levels.yaml": b"a: 1", "draft/programs/x.yml": b"b: 2", "__MACOSX/._x": b"junk"})
    assert whatif_drafts.unpack(data, tmp_path, ZipLimits()) == 2
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.y*ml")) == [
        "levels.yaml",
        "programs/x.yml",
    ]
    assert not (tmp_path / "__MACOSX").exists()


@pytest.mark.parametrize(
    "name",
    ["../x.yaml", "a/../../x.yaml", "/abs.yaml", "C:/win.yaml", "a\\b.yaml", ".hidden.yaml", "x.py"],
)
def test_an_entry_outside_the_folder_hidden_or_not_yaml_refuses_the_whole_archive(
    tmp_path: Path, name: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        whatif_drafts.unpack(archive({"ok.yaml": b"a: 1", name: b"a: 1"}), tmp_path, ZipLimits())
    assert "file" in refused.value.errors
    assert list(tmp_path.iterdir()) == []  # names are checked before anything is written


def test_bounds_on_size_entries_depth_and_inflated_bytes(tmp_path: Path) -> None:
    small = ZipLimits(max_bytes=10_000, max_entries=3, max_depth=2, max_inflated=1_000)
    with pytest.raises(PayloadTooLarge):
        whatif_drafts.unpack(b"x" * 10_001, tmp_path, small)
    with pytest.raises(ValidationFailed, match="more than 3 entries"):
        whatif_drafts.unpack(archive({f"{n}.yaml": b"a: 1" for n in range(4)}), tmp_path / "a", small)
    with pytest.raises(ValidationFailed):
        whatif_drafts.unpack(archive({"a/b/c.yaml": b"a: 1"}), tmp_path / "b", small)
    bomb = archive({"big.yaml": b"#" * 50_000})  # compresses to a few hundred bytes
    assert len(bomb) < 10_000
    with pytest.raises(ValidationFailed) as refused:
        whatif_drafts.unpack(bomb, tmp_path / "c", small)
    assert "inflates to more than 1000 bytes" in str(refused.value.errors)


def test_server_drafts_are_listed_by_name_and_a_bad_or_unknown_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "raise-2021").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    assert [d.name for d in whatif_drafts.list_drafts(tmp_path)] == ["raise-2021"]
    assert whatif_drafts.list_drafts(tmp_path / "none") == []
    assert whatif_drafts.draft_folder(tmp_path, "raise-2021") == tmp_path / "raise-2021"
    for bad in ("../etc", ".git", "a/b", ""):
        with pytest.raises(ValidationFailed):
            whatif_drafts.draft_folder(tmp_path, bad)
    with pytest.raises(NotFound):
        whatif_drafts.draft_folder(tmp_path, "missing")
