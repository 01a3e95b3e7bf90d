"""Request deadlines on the fast mode: the test of `test_local_cloud_deadlines.py`, imported
unchanged, with `soorma_local_cloud` starting fast clouds. The schedules stay on moto (the
cloud's pump fires them) and the timeout reply is routed into the SQLite queues."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.test_local_cloud_deadlines import (
    test_the_local_cloud_delivers_the_timeout_of_a_dead_lettered_request,
)

__all__ = ["test_the_local_cloud_delivers_the_timeout_of_a_dead_lettered_request"]


@pytest.fixture
def soorma_local_cloud(soorma_local_cloud: Callable[..., Any]) -> Callable[..., Any]:
    """The plugin's factory, in the fast mode."""

    def start(*paths: Any, **options: Any) -> Any:
        cloud = soorma_local_cloud(*paths, fast=True, **options)
        assert cloud.fast_store is not None
        return cloud

    return start
