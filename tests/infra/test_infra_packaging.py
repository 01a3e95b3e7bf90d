"""Packaging smoke test: each handler runs with only what Lambda would give it.

A fresh virtual environment holds Powertools 3.37.0 with the extras its AWS-managed layer ships
(pydantic, aws-xray-sdk, fastjsonschema) and boto3; PYTHONPATH is the `soorma_common` layer's
`python/` dir plus the function folder, exactly the two assets CDK uploads. A moto server on
127.0.0.1 (run by this test process) stands in for AWS: the platform is provisioned there from
the manifests, a real PutEvents routes one event to the agent's queue, and the record received
from that queue is what the handler gets. So the import path, the runtime's I/O (DynamoDB claim,
PutEvents) and the outgoing event are all exercised, without Docker and without moto in the venv.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import venv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.paths import LAYER_ROOT, REPO_ROOT
from soorma_common.envelope import EventEnvelope
from soorma_common.manifest import AgentManifest
from soorma_common.manifest_reader import FunctionManifest, read_function_manifests
from soorma_common.topics import EventTopic
from soorma_dev.provision import Platform, provision
from soorma_dev.sqs_events import RECEIVE_ATTRIBUTES, lambda_event, queue_region
from tests.infra.agent_folders import write_two_agents

pytestmark = pytest.mark.slow

DRIVER = Path(__file__).with_name("lambda_driver.py")
LAMBDA_PACKAGES = [
    "aws-lambda-powertools[parser,tracer,validation]==3.37.0",
    "boto3==1.44.8",
]
SMOKE_SOURCE = "soorma.smoke-test"


@pytest.fixture(scope="module")
def lambda_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with only Powertools (and its layer's extras) and boto3."""
    root = tmp_path_factory.mktemp("lambda-venv")
    venv.create(root, with_pip=True)
    python = root / "bin" / "python"
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *LAMBDA_PACKAGES,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return python


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("AWS_ENDPOINT_URL", endpoint)  # boto3 honours it for every client
            yield endpoint
    finally:
        server.stop()


def session_for(endpoint: str) -> Any:
    assert os.environ["AWS_ENDPOINT_URL"] == endpoint
    return boto3.session.Session(region_name="us-east-1")


def event_type_for(manifest: AgentManifest) -> tuple[Any, str, str | None]:
    """(topic, a concrete event type, reply_to) for the agent's first subscription."""
    sub = manifest.subscriptions[0]
    if sub.event_type == "*":
        event_type = "smoke.checked"
    elif sub.event_type.endswith(".*"):
        event_type = sub.event_type[:-1] + "smoke"
    else:
        event_type = sub.event_type
    return sub.topic, event_type, manifest.name if sub.replies else None


def receive_one(sqs: Any, url: str, deadline_seconds: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=1,
            AttributeNames=RECEIVE_ATTRIBUTES,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if messages:
            return messages[0]
    raise AssertionError(f"no message arrived on {url}")


def run_handler(
    python: Path,
    function: FunctionManifest | Path,
    event: dict[str, Any],
    env: dict[str, str],
    tmp_path: Path,
) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    folder = function.path if isinstance(function, FunctionManifest) else function
    event_file, result_file = tmp_path / "event.json", tmp_path / "result.json"
    event_file.write_text(json.dumps(event))
    child_env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join([str(LAYER_ROOT / "python"), str(folder)]),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        **env,
    }
    done = subprocess.run(
        [str(python), "-s", str(DRIVER), str(event_file), str(result_file)],
        cwd=folder,
        env=child_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(result_file.read_text())
    assert not any(str(REPO_ROOT / ".venv") in p for p in result["paths"]), "dev venv leaked in"
    return result["result"], done


def deliver_one(
    platform: Platform,
    session: Any,
    function: FunctionManifest,
    python: Path,
    endpoint: str,
    tmp_path: Path,
) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    manifest = function.manifest
    topic, event_type, reply_to = event_type_for(manifest)
    envelope = EventEnvelope(
        source=SMOKE_SOURCE,
        type=event_type,
        topic=topic,
        data={"smoke": True},
        tenant_id="tenant-1",
        reply_to=reply_to,
    )
    session.client("events").put_events(
        Entries=[
            {
                "EventBusName": platform.bus_name,
                "Source": SMOKE_SOURCE,
                "DetailType": event_type,
                "Detail": envelope.to_json(),
            }
        ]
    )
    url, arn, _ = platform.agents[manifest.name].queues[topic]
    sqs = session.client("sqs")
    message = receive_one(sqs, url)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    event = lambda_event([message], arn, queue_region(arn))
    env = platform.environment(manifest.name) | {
        "POWERTOOLS_SERVICE_NAME": manifest.name,
        "AWS_ENDPOINT_URL": endpoint,
    }
    return run_handler(python, function, event, env, tmp_path)


def test_test_agents_handle_a_record_and_publish(
    lambda_python: Path, moto_endpoint: str, tmp_path: Path
) -> None:
    functions = read_function_manifests(write_two_agents(tmp_path / "functions"))
    session = session_for(moto_endpoint)
    platform = provision([f.manifest for f in functions], stage="smoke", session=session)
    order = next(f for f in functions if f.manifest.name == "order-processor")
    result, _ = deliver_one(platform, session, order, lambda_python, moto_endpoint, tmp_path)
    assert result == {"batchItemFailures": []}
    # its outgoing event went through real PutEvents to the event log's queue
    url, _, _ = platform.agents["event-log"].queues[EventTopic.ACTION_REQUESTS]
    published = json.loads(receive_one(session.client("sqs"), url)["Body"])
    assert published["source"] == "soorma.order-processor"
    assert published["detail-type"] == "inventory.reserve"
    assert published["detail"]["data"] == {"smoke": True}
    log = next(f for f in functions if f.manifest.name == "event-log")
    result, _ = deliver_one(platform, session, log, lambda_python, moto_endpoint, tmp_path)
    assert result == {"batchItemFailures": []}


def registry_sync_create(
    python: Path, folder: Path, session: Any, endpoint: str, platform: Platform, tmp_path: Path
) -> dict[str, Any]:
    """Run the registry-sync function with a CloudFormation Create request carrying the
    repository's manifests; its answer goes to a presigned-style S3 URL (moto's S3)."""
    manifests = [f.manifest for f in read_function_manifests(REPO_ROOT / "functions")]
    s3 = session.client("s3")
    s3.create_bucket(Bucket="cfn-responses")
    request = {
        "RequestType": "Create",
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:soorma-repo-registry-sync",
        "ResponseURL": f"{endpoint}/cfn-responses/registry-sync-create",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/soorma-repo/1",
        "RequestId": "create-1",
        "LogicalResourceId": "RegistrySync",
        "ResourceType": "Custom::SoormaRegistrySync",
        "ResourceProperties": {
            "TableName": platform.tables["registry"],
            "Manifests": json.dumps([m.model_dump(mode="json") for m in manifests]),
        },
    }
    env = {
        "SOORMA_REGISTRY_TABLE": platform.tables["registry"],
        "POWERTOOLS_SERVICE_NAME": "registry-sync",
        "AWS_ENDPOINT_URL": endpoint,
        "NO_PROXY": "127.0.0.1",
    }
    result, _ = run_handler(python, folder, request, env, tmp_path)
    sent = s3.get_object(Bucket="cfn-responses", Key="registry-sync-create")["Body"].read()
    assert json.loads(sent) == result  # what CloudFormation would have read
    return result


def test_every_repository_function_imports_and_agents_handle_a_record(
    lambda_python: Path, moto_endpoint: str, tmp_path: Path
) -> None:
    root = REPO_ROOT / "functions"
    folders = (
        sorted(p for p in root.iterdir() if (p / "handler.py").is_file()) if root.is_dir() else []
    )
    functions = read_function_manifests(root)
    agent_folders = {f.path.resolve() for f in functions}
    session = session_for(moto_endpoint)
    platform = provision(
        [f.manifest for f in functions], stage="repo", session=session, register=False
    )
    for folder in folders:
        if folder.resolve() in agent_folders:
            continue
        if folder.name == "registry_sync":  # a custom resource: drive it with a Create request
            answer = registry_sync_create(
                lambda_python, folder, session, moto_endpoint, platform, tmp_path
            )
            assert answer["Status"] == "SUCCESS", answer["Reason"]
            assert answer["Data"]["Created"] > 0
        else:  # another platform function: import only
            result, _ = run_handler(lambda_python, folder, {}, {}, tmp_path)
            assert result == {"imported": True}
    for function in functions:
        result, done = deliver_one(
            platform, session, function, lambda_python, moto_endpoint, tmp_path
        )
        assert result == {"batchItemFailures": []}, function.manifest.name
        assert "ModuleNotFoundError" not in done.stderr and "ImportError" not in done.stderr
