"""The configuration page lists every SOORMA_* variable the SDK reads, and no other."""

from __future__ import annotations

import re
from pathlib import Path

import soorma.config
from soorma_common.environment import SETTINGS_VARIABLES

ROOT = Path(__file__).resolve().parents[2]


def _variables(text: str) -> set[str]:
    return set(re.findall(r"SOORMA_[A-Z_]+", text))


def test_every_variable_read_is_documented() -> None:
    # `soorma_common.environment` names every variable `soorma.config` reads (each one changes
    # the settings: tests/unit/test_function_environment.py)
    documented = _variables((ROOT / "docs" / "configuration.md").read_text())
    assert set(SETTINGS_VARIABLES) == documented


def test_settings_defaults_follow_the_docs() -> None:
    conf = soorma.config.Settings.from_env({})
    assert conf.event_bus == "soorma-dev"
    assert conf.max_event_bytes == 262144
    assert conf.idempotency and conf.idempotency_table is None
    assert not conf.strict_schemas
