"""Cold start: importing an agent module builds no boto3 client and imports neither boto3, the
X-Ray SDK, Powertools nor the cloudevents SDK; they load on the first invocation."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

LAYER = Path(__file__).parents[2] / "layers" / "soorma_common" / "python"
DEFERRED = ("boto3", "botocore", "aws_xray_sdk", "aws_lambda_powertools", "cloudevents")

AGENT = """
from soorma import Worker
from soorma_common import EventTopic

worker = Worker(name="cold", capabilities=["orders"])


@worker.on_event("order.placed", topic=EventTopic.BUSINESS_FACTS)
async def handle(event, context):
    await context.bus.announce("order.seen", event.data)


handler = worker.lambda_handler
"""

PROBE = """
import json, sys
import handler
loaded = sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[1].split(",")))
print(json.dumps(loaded))
"""


def test_importing_an_agent_module_defers_every_heavy_dependency(tmp_path: Path) -> None:
    (tmp_path / "handler.py").write_text(textwrap.dedent(AGENT))
    done = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(DEFERRED)],
        cwd=tmp_path,
        env={"PYTHONPATH": str(LAYER), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


RUNTIME_PROBE = """
import json, sys
import handler
import soorma.runtime.handler
unwanted = (
    "soorma.registry", "soorma.manifests", "soorma.memory", "aws_lambda_powertools.utilities.batch",
    "soorma_common.manifest", "soorma_common.definitions",
)
print(json.dumps(sorted(m for m in sys.modules if m.startswith(unwanted))))
"""


def test_the_runtime_loads_neither_registry_memory_nor_powertools_batch(tmp_path: Path) -> None:
    """What only tooling needs stays off the runtime's cold start (the batch loop is our own;
    the manifest's and event definitions' models are built by `manifest()`, not by decorators)."""
    (tmp_path / "handler.py").write_text(textwrap.dedent(AGENT))
    done = subprocess.run(
        [sys.executable, "-c", RUNTIME_PROBE],
        cwd=tmp_path,
        env={"PYTHONPATH": str(LAYER), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
