"""The engine is the pure core: it must not pull in the web or database layers."""

from __future__ import annotations

import subprocess
import sys

from .conftest import REPO


def test_engine_imports_neither_flask_nor_sqlalchemy() -> None:
    code = (
        "import sys, aidservice.engine, aidservice.engine.compiler, aidservice.engine.interp, aidservice.engine.ruletests\n"
        "import aidservice.engine.columnar, aidservice.engine.batch, aidservice.demo.facts, aidservice.demo.province, aidservice.services.applications.procedure\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'sqlalchemy', 'werkzeug', 'marshmallow'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
