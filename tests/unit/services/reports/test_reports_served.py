"""Reports stream after the view returns: under a real server (no test app context) they must still work."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from aidservice.extensions import db
from tests.world.factories import make_user
from tests.world.feeds import committed_app, scratch_database


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A real HTTP server on a committed SQLite database, and an auditor's token."""
    url = next(scratch_database(f"sqlite:///{tmp_path / 'x.sqlite3'}", tmp_path))
    app = committed_app(url)
    with app.app_context():
        _user, token = make_user(db.session, "auditor")
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", token
    finally:
        server.shutdown()


@pytest.mark.parametrize("fmt", ["json", "csv", "xlsx", "html"])
def test_a_report_streams_under_a_real_server(served: tuple[str, str], fmt: str) -> None:
    base, token = served
    request = urllib.request.Request(
        f"{base}/api/v1/reports/regions?period=2020-2021-autumn&region=320000&format={fmt}",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
        assert response.status == 200
    assert len(body) > 50
