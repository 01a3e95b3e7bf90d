"""Forty agents synthesize, with every stack (root and nested) under CloudFormation's 500."""

from __future__ import annotations

import pytest

from tests.infra.agent_folders import write_many_agents
from tests.infra.synth import Synthesized, synthesize

AGENTS = 40
RESOURCE_LIMIT = 500


@pytest.fixture(scope="module")
def big_app(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    root = write_many_agents(tmp_path_factory.mktemp("functions"), AGENTS)
    return synthesize(root, tmp_path_factory.mktemp("cdk.out"), stage="dev")


def test_forty_agents_every_stack_under_the_resource_limit(big_app: Synthesized) -> None:
    assert len(big_app.nested) == AGENTS
    counts = {"root": len(big_app.root["Resources"])}
    counts |= {name: len(t["Resources"]) for name, t in big_app.nested.items()}
    assert max(counts.values()) < RESOURCE_LIMIT, counts
    # per agent: 3 topics x (queue, DLQ, 2 policies, mapping, rule, alarm) + function, role,
    # policy, log group, errors alarm (+ CDK metadata)
    assert all(count <= 30 for name, count in counts.items() if name != "root")


def test_forty_agents_one_dashboard_and_every_rule_name_unique(big_app: Synthesized) -> None:
    names = [
        r["Properties"]["Name"]
        for t in big_app.nested.values()
        for r in t["Resources"].values()
        if r["Type"] == "AWS::Events::Rule"
    ]
    assert len(names) == len(set(names)) == 3 * AGENTS
    dashboards = [
        r for r in big_app.root["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    assert len(dashboards) == 1
