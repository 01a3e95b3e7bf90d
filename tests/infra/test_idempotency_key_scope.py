"""The IAM pattern of an agent's own idempotency claims matches the keys Powertools really writes
for that agent's function, and no other agent's (checked on moto with the runtime's ClaimStore)."""

from __future__ import annotations

from collections.abc import Iterator
from fnmatch import fnmatchcase

import boto3
import pytest
from moto import mock_aws

from infra.permissions import idempotency_key_patterns
from soorma.runtime.claims import ClaimStore, claim_key
from soorma_common import naming
from soorma_dev.provision import create_table

STAGE = "dev"
AGENTS = ("shop", "shop-2", "notifier")


@pytest.fixture
def stored_keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """agent -> the partition key (`id`) its claim of one event is stored under."""
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        table = naming.table_name(STAGE, "idempotency")
        create_table(dynamodb, table, "idempotency")
        keys = {}
        for agent in AGENTS:
            monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", naming.function_name(STAGE, agent))
            store = ClaimStore(table, expires_after_seconds=60, dynamodb_client=dynamodb)
            store.run_once(claim_key(agent, "soorma.shop", "event-1"), lambda: [])
            ids = {i["id"]["S"] for i in dynamodb.scan(TableName=table)["Items"]}
            (keys[agent],) = ids - set(keys.values())
        yield keys


def test_each_agent_pattern_matches_its_own_claims_only(stored_keys: dict[str, str]) -> None:
    for agent in AGENTS:
        pattern, _pending_requests = idempotency_key_patterns(STAGE, agent)
        matched = {a for a, key in stored_keys.items() if fnmatchcase(key, pattern)}
        assert matched == {agent}, (pattern, stored_keys)
