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
