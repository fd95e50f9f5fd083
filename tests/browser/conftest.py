"""Browser tests: Debian's Chromium driven by Playwright against a real server (werkzeug, in a thread) on a
temporary SQLite database, migrated and seeded with the small province of `tests/world/web.py`.

Chromium is /usr/bin/chromium (`apt-get install -y chromium`; never `playwright install`). When it or the
playwright package is missing the tests are skipped, and under CI=true they fail instead.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from aidservice import create_app, wiring
from aidservice.extensions import db
from aidservice.services.context import Settings
from config import TestingConfig
from tests.conftest import RULES_DIR, in_ci
from tests.world import web as w

CHROMIUM = os.environ.get("AID_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"


def _unavailable(message: str) -> None:
    if in_ci():
        pytest.fail(message + " (CI=true: the browser tests are required; .ci/run installs chromium)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def playwright_api() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[test]')")
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)) and shutil.which(CHROMIUM) is None:
        _unavailable(f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")
    with sync_playwright() as api:
        yield api


@pytest.fixture(scope="session")
def browser(playwright_api: Any) -> Iterator[Any]:
    launched = playwright_api.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@dataclass
class Clock:
    today: date = w.SUBMITTED


@dataclass
class Live:
    url: str
    app: Flask
    world: w.World
    clock: Clock

    def shot(self, page: Any, name: str, *, full_page: bool = True) -> Path:
        """Save a screenshot under tests/browser/screenshots/ (git-ignored) to look at."""
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A migrated, seeded SQLite database behind a real HTTP server on 127.0.0.1, with the services' clock pinned."""
    from flask_migrate import upgrade

    folder = tmp_path_factory.mktemp("live")
    config = TestingConfig.from_env(
        {
            "DATABASE_URL": f"sqlite:///{folder / 'aidservice.sqlite3'}",
            "AID_RULES_DIR": str(RULES_DIR),
            "AID_WHATIF_FILE": str(folder / "whatif-last.json"),
            "AID_DRAFT_RULES_DIR": str(folder / "drafts"),
        }
    )
    app = create_app(config)
    clock = Clock()
    with app.app_context():
        upgrade()
        world = w.build(db.session, w.settings_for(app, clock.today))
        db.session.commit()
        db.session.remove()
    patch = pytest.MonkeyPatch()
    original = wiring.settings

    def settings() -> Settings:
        return dataclasses.replace(original(), today=clock.today)

    patch.setattr(wiring, "settings", settings)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield Live(f"http://127.0.0.1:{server.server_port}", app, world, clock)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        patch.undo()
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """A fresh browser profile (its own cookies) at 1280×800, Chinese."""
    made = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN", accept_downloads=True)
    made.set_default_timeout(10_000)
    yield made
    made.close()
