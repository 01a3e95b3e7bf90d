"""Test-wide setup: no test can reach AWS (dummy credentials, one region, moto only)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
)
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)

# Property tests judge inputs, never the clock: a loaded 2-core machine must not fail them.
settings.register_profile("soorma", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("soorma")


@pytest.fixture(autouse=True)
def _restore_environment() -> Iterator[None]:
    """No test leaks `os.environ` changes into the next (e.g. the `SOORMA_*` variables of a
    `MotoHarness` that was never closed), nor the SDK's settings and clients cached from them."""
    saved = dict(os.environ)
    yield
    if os.environ != saved:
        os.environ.clear()
        os.environ.update(saved)
        from soorma import clients
        from soorma.config import settings

        settings.cache_clear()
        clients.reset()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow",
        action="store_true",
        help="also run the tests marked slow (10,000-event runs, wheel installs, stress)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Slow tests are opt-in (`--run-slow`), so the default suite stays within minutes."""
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
