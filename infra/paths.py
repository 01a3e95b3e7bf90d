"""Where the CDK app finds its assets: the repository, the `soorma_common` layer, `functions/`."""

from __future__ import annotations

from pathlib import Path

#: The repository root (the folder holding `app.py`, `infra/` and `functions/`).
REPO_ROOT = Path(__file__).resolve().parent.parent
#: The folder of the `soorma_common` layer (its `python/` dir holds `soorma_common` and `soorma`).
LAYER_ROOT = REPO_ROOT / "layers" / "soorma_common"
#: The agents and platform functions deployed by default (`functions/<name>/handler.py`).
FUNCTIONS_ROOT = REPO_ROOT / "functions"
