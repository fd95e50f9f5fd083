"""The fuzz tests' world: a scratch database per backend, seeded once with the reports' province and committed.

`db_url` is overridden for this directory, so the shared `app` fixture still wraps every test in a transaction
that is rolled back: what one fuzzed request writes never reaches the next test, nor any test outside.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.world.reports import seeded_province_database

_TOKENS: dict[str, dict[str, str]] = {}
"""Bearer tokens of each seeded world's callers, by its database URL."""


@pytest.fixture(scope="session")
def db_url(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated scratch database of the same backend as the session's, holding the province."""
    yield from seeded_province_database(db_url, tmp_path_factory.mktemp("fuzz"), _TOKENS)


@pytest.fixture
def tokens(db_url: str) -> dict[str, str]:
    """Bearer tokens of the province's callers: officer_S1, county_admin, auditor, client_civil_affairs, ..."""
    return _TOKENS[db_url]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Schemathesis runs each operation only as the callers that reach its logic (see `reaches_logic`)."""
    from tests.fuzz.test_schemathesis import reaches_logic

    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        operation = item.name.startswith("test_api_conforms_to_its_openapi_for_every_caller[")
        if operation and callspec is not None and "caller" in callspec.params:
            path = item.name.split("[", 2)[1].split(" ", 1)[1].rstrip("]")
            if not reaches_logic(path, callspec.params["caller"]):
                dropped.append(item)
                continue
        kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
