"""A planner's function may invoke exactly the models its manifest declares (issue 14): never
`*`, cross-Region profiles only through themselves; cdk-nag passes; the first model is its
`SOORMA_LLM_MODEL_ID`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template
from pydantic import ValidationError

from infra.agent_function import AgentFunction, AgentFunctionProps
from infra.nag import enable_checks
from infra.platform import SoormaPlatform, SoormaPlatformProps
from soorma_common.manifest import AgentKind, AgentManifest, Subscription
from soorma_common.topics import EventTopic

FOUNDATION = "anthropic.claude-3-haiku-20240307-v1:0"
PROFILE = "us.anthropic.claude-sonnet-4-20250514-v1:0"


def manifest(*models: str) -> AgentManifest:
    return AgentManifest(
        name="advisor",
        kind=AgentKind.PLANNER,
        subscriptions=[Subscription(topic=EventTopic.ACTION_REQUESTS, event_type="advice.asked")],
        llm_models=list(models),
    )


def synthesized(tmp_path: Path, agent: AgentManifest) -> Template:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "handler.py").write_text("def handler(event, context):\n    return {}\n")
    app = App(outdir=str(tmp_path / "out"))
    stack = Stack(app, "s")
    platform = SoormaPlatform(stack, "Platform", SoormaPlatformProps(stage="dev"))
    AgentFunction(
        stack,
        "Agent",
        AgentFunctionProps(
            manifest=agent,
            code_path=tmp_path / "code",
            bus=platform.bus,
            tables=platform.tables,
            layers=platform.layers,
            stage="dev",
        ),
    )
    enable_checks(app)
    app.synth()  # raises on any unacknowledged cdk-nag finding
    return Template.from_stack(stack)


def bedrock_statements(template: Template) -> list[dict[str, Any]]:
    found = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"]
            actions = [actions] if isinstance(actions, str) else actions
            if any(a.startswith("bedrock:") for a in actions):
                found.append(statement)
    return found


def test_the_declared_models_and_nothing_else_may_be_invoked(tmp_path: Path) -> None:
    template = synthesized(tmp_path, manifest(FOUNDATION, PROFILE))

    direct, through_profile = bedrock_statements(template)
    assert direct["Sid"] == "InvokeDeclaredModels"
    assert sorted(direct["Action"]) == [
        "bedrock:InvokeModel",
        "bedrock:InvokeModelWithResponseStream",
    ]
    text = json.dumps(direct["Resource"])
    assert f"::foundation-model/{FOUNDATION}" in text and f":inference-profile/{PROFILE}" in text
    assert '"*"' not in text
    assert through_profile["Resource"] == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":bedrock:*::foundation-model/anthropic.claude-sonnet-4-20250514-v1:0",
            ],
        ]
    }
    condition = through_profile["Condition"]["StringEquals"]["bedrock:InferenceProfileArn"]
    assert f":inference-profile/{PROFILE}" in json.dumps(condition)
    [function] = template.find_resources("AWS::Lambda::Function").values()
    assert function["Properties"]["Environment"]["Variables"]["SOORMA_LLM_MODEL_ID"] == FOUNDATION


def test_an_agent_that_declares_no_model_gets_no_bedrock_right(tmp_path: Path) -> None:
    template = synthesized(tmp_path, manifest())
    assert bedrock_statements(template) == []
    [function] = template.find_resources("AWS::Lambda::Function").values()
    assert "SOORMA_LLM_MODEL_ID" not in function["Properties"]["Environment"]["Variables"]


@pytest.mark.parametrize("bad", ["*", "anthropic.*", "", "us.claude v1", "a" * 2049])
def test_a_wildcard_or_malformed_model_is_refused_in_the_manifest(bad: str) -> None:
    with pytest.raises(ValidationError, match="not a Bedrock model id"):
        manifest(bad)


def test_agents_declare_their_models_into_the_manifest() -> None:
    from soorma import Worker
    from soorma.ai import ChoreographyPlanner

    worker = Worker(name="router").uses_models(FOUNDATION)
    assert worker.manifest().llm_models == [FOUNDATION]
    planner = ChoreographyPlanner("advisor", model_id=PROFILE, goals=["advice.asked"])
    assert planner.manifest().llm_models == [PROFILE]
