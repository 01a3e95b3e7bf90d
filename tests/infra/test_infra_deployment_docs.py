"""docs/deployment.md stays true: context keys, the pinned Powertools release, the cost sums."""

from __future__ import annotations

import re
from pathlib import Path

from infra.app import CONTEXT_KEYS
from infra.powertools import POWERTOOLS_VERSION, PowertoolsLayerProps

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "deployment.md").read_text()


def test_every_context_key_is_documented() -> None:
    for key in CONTEXT_KEYS:
        assert f"| `{key}` |" in DOC


def test_the_powertools_pin_matches_requirements_and_the_doc() -> None:
    requirements = (REPO / "requirements-dev.txt").read_text()
    assert re.search(
        rf"aws-lambda-powertools(\[[^\]]*\])?=={re.escape(POWERTOOLS_VERSION)}", requirements
    )
    assert PowertoolsLayerProps().ssm_parameter() in DOC
    assert f"**{POWERTOOLS_VERSION}**" in DOC


def test_cost_table_adds_up() -> None:
    table = DOC[DOC.index("| call | per event |") : DOC.index("Each further subscribed agent")]
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in table.splitlines()
        if line.startswith("|") and not line.startswith("|---")
    ][1:]
    amounts = {row[0]: float(row[2].strip("*")) for row in rows if row[2]}
    per_agent = [
        "SQS `SendMessage` by the rule's target",
        "SQS `ReceiveMessage` by the event-source mapping (10 messages per receive)",
        "SQS `DeleteMessageBatch` by the mapping (10 per call)",
        "Lambda invocation (batch of 10)",
        "Lambda duration (0.5 GB x 0.02 s)",
        next(name for name in amounts if name.startswith("DynamoDB idempotency")),
    ]
    subtotal = sum(amounts[name] for name in per_agent)
    assert round(subtotal, 2) == amounts["**one agent, subtotal**"]
    total = (
        amounts[
            "EventBridge `PutEvents` (one entry; the SDK sends 10 per call, billing is per entry)"
        ]
        + 2 * subtotal
        + amounts["event-log write to the events table"]
    )
    assert abs(total - amounts["**total: published once, handled by one agent, logged**"]) < 0.006
    # the prices behind the rows: $0.40/M SQS requests, $0.20/M invocations, $0.625/M WRU
    assert amounts["Lambda invocation (batch of 10)"] == round(0.1 * 0.20, 2)
    assert round(0.5 * 0.02 * 0.0000133334 * 1e6, 2) == amounts["Lambda duration (0.5 GB x 0.02 s)"]


def test_prices_cite_aws_pricing_pages_and_a_date_not_files_outside_the_repository() -> None:
    assert "../" not in DOC  # every link resolves inside the repository or on the web
    for page in ("eventbridge", "sqs", "lambda", "dynamodb"):
        assert f"https://aws.amazon.com/{page}/pricing/" in DOC
    prices = DOC[DOC.index("## Cost per million events") :]
    assert re.search(r"as of\s+\d{4}-\d{2}-\d{2}", prices)


def test_the_bundling_command_in_the_doc_is_the_one_synth_runs() -> None:
    from infra.bundling import LAMBDA_PLATFORM, python_version

    assert f"--platform {LAMBDA_PLATFORM}" in DOC
    assert f"--python-version {python_version()}" in DOC
    assert "--only-binary=:all:" in DOC
