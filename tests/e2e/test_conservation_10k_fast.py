"""The 10,000-event conservation run of `test_conservation_10k.py` (a worker killed with
`kill -9` mid-run, then the fix deployed and the dead letters redriven) on the local cloud's
fast mode. Opt-in as that one: `SOORMA_CONSERVATION_10K=1`, and marked slow (`--run-slow`)."""

from __future__ import annotations

import pytest

from tests.e2e import test_conservation_10k as faithful
from tests.e2e.test_conservation import conservation_cloud

pytestmark = faithful.pytestmark


def test_ten_thousand_events_with_a_worker_killed_mid_run_fast(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fast_cloud(factory: pytest.TempPathFactory):
        cloud, store = conservation_cloud(factory)
        cloud.fast = True  # chosen before start
        return cloud, store

    monkeypatch.setattr(faithful, "conservation_cloud", fast_cloud)
    faithful.test_ten_thousand_events_with_a_worker_killed_mid_run(tmp_path_factory)
