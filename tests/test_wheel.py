"""The wheel carries everything an installed service needs (marker `wheel`: run by scripts/wheel_smoke.sh, or
`pytest -m wheel tests/test_wheel.py`; building the wheel needs pip's build back end, so not in `make test`).

AID_WHEEL names a wheel already built (the smoke script's); otherwise the test builds one from the checkout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from config import REPO_ROOT

pytestmark = pytest.mark.wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("AID_WHEEL")
    if given:
        return Path(given)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(REPO_ROOT)],
        check=True,
        capture_output=True,
        timeout=240,
    )
    (built,) = out.glob("aidservice-*.whl")
    return built


@pytest.fixture(scope="module")
def wheel_files(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def tracked(folder: str) -> set[str]:
    """The files git holds under `folder` of the checkout (the wheel must carry each)."""
    listed = subprocess.run(
        ["git", "ls-files", folder], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return {name for name in listed if not name.endswith("/README")}


@pytest.mark.parametrize(
    "folder",
    ["aidservice/rules", "aidservice/alembic", "aidservice/templates", "aidservice/static"],
)
def test_the_wheel_carries_every_file_of_the_package_data(wheel_files: set[str], folder: str) -> None:
    expected = tracked(folder)
    assert expected, f"git lists nothing under {folder}"
    assert expected - wheel_files == set()


def test_the_wheel_carries_configuration_entry_points_and_catalogues(wheel_files: set[str]) -> None:
    for name in (
        "aidservice/config.py",
        "aidservice/wsgi.py",
        "aidservice/console.py",
        "aidservice/gunicorn_conf.py",
        "aidservice/alembic/env.py",
        "aidservice/alembic/alembic.ini",
        "aidservice/rules/procedure.yaml",
        "aidservice/translations/en/LC_MESSAGES/messages.mo",
        "aidservice/translations/zh_CN/LC_MESSAGES/messages.mo",
    ):
        assert name in wheel_files, name


def test_the_wheel_declares_the_aid_script(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt"))
        text = archive.read(name).decode()
    assert "aid = aidservice.console:main" in text
