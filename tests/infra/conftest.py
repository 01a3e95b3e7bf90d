"""Infra tests: synthesize each app once per module; jsii's Node banner silenced."""

from __future__ import annotations

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
