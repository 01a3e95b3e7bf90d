"""`npx cdk synth` of the repository's own app, offline: no credentials, no notices, no noise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CDK_CLI = REPO / "node_modules" / ".bin" / "cdk"
#: Words that would betray a network call or a banner on stderr.
NOISE = (
    "notice",
    "telemetry",
    "sts",
    "credential",
    "newer version",
    "node",
    "feature flag",
    "proxy",
    "econnrefused",
    "warning",
)


def offline_environment() -> dict[str, str]:
    """The environment `make synth` gives the CLI: no AWS credentials, the venv first on PATH,
    and any network attempt sent to a closed local port (so it would show up as an error)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"}
    }
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        CDK_DISABLE_VERSION_CHECK="1",
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED="true",
        HTTPS_PROXY="http://127.0.0.1:9",
        HTTP_PROXY="http://127.0.0.1:9",
    )
    env.pop("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", None)  # app.py must do it itself
    return env


@pytest.mark.skipif(not CDK_CLI.exists(), reason="node_modules missing: run `make install`")
def test_npx_cdk_synth_is_offline_and_quiet(tmp_path: Path) -> None:
    done = subprocess.run(
        ["npx", "--no-install", "cdk", "synth", "--quiet", "--output", str(tmp_path)],
        cwd=REPO,
        env=offline_environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    noisy = [line for line in done.stderr.splitlines() if any(w in line.lower() for w in NOISE)]
    assert noisy == [], done.stderr
    assert done.stdout.strip() == ""
    template = json.loads((tmp_path / "soorma-dev.template.json").read_text())
    assert any(r["Type"] == "AWS::Events::EventBus" for r in template["Resources"].values())
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    files = [str(p) for p in sorted(tmp_path.glob("*.template.json"))]
    lint = subprocess.run(
        [str(cfn_lint), "-i", "W3005", "--", *files], capture_output=True, text=True, check=False
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
