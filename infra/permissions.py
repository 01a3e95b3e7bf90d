"""IAM statements an agent's role gets beyond what the L2 grants give."""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam

from soorma_common import naming
from soorma_common.manifest import AgentManifest


def put_events_statement(manifest: AgentManifest, bus_arn: str) -> iam.PolicyStatement | None:
    """`events:PutEvents` on the stage's bus, only as `soorma.<agent>` and, when the agent
    declares the events it produces, only with those detail-types.

    None when the agent declared that it produces nothing (`events_produced=[]`): it may not
    publish at all. This is the only statement granting PutEvents (never `grant_put_events_to`,
    which adds one without conditions).
    """
    conditions: dict[str, dict[str, str | list[str]]] = {
        "StringEquals": {"events:source": naming.event_source(manifest.name)}
    }
    produced = manifest.produced_event_names
    if produced is not None:
        if not produced:
            return None
        # The loop notice is the runtime's own: every agent may put it (runtime/loops.py).
        conditions["StringEquals"]["events:detail-type"] = sorted(
            {*produced, naming.LOOP_DETECTED_EVENT}
        )
    return iam.PolicyStatement(
        sid="PutEventsAsItself",
        actions=["events:PutEvents"],
        resources=[bus_arn],
        conditions=conditions,
    )


def dead_letter_send_statement(dead_letter_queue_arns: list[str]) -> iam.PolicyStatement:
    """What the runtime needs to send permanent failures to the agent's own DLQs itself."""
    return iam.PolicyStatement(
        sid="SendPermanentFailuresToOwnDeadLetterQueues",
        actions=["sqs:GetQueueUrl", "sqs:SendMessage"],
        resources=dead_letter_queue_arns,
    )


#: DynamoDB item actions, split as the L2 grants split them (streams excluded).
TABLE_READ_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
)
TABLE_WRITE_ACTIONS = (
    "dynamodb:BatchWriteItem",
    "dynamodb:DeleteItem",
    "dynamodb:DescribeTable",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
)
#: What Powertools' idempotency (`DynamoDBPersistenceLayer`) calls: one item at a time.
IDEMPOTENCY_ACTIONS = (
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
)
#: An agent's memory access: items, queries and batches, but no Scan (a whole-table read is
#: the admin deletion path's, not a handler's).
MEMORY_ACTIONS = tuple(
    a for a in sorted(set(TABLE_READ_ACTIONS + TABLE_WRITE_ACTIONS)) if a != "dynamodb:Scan"
)
#: What an agent reads of the registry: one event (`GetItem`, the validator) or a Scan
#: (`RegistryClient`'s whole-table copy).
REGISTRY_READ_ACTIONS = TABLE_READ_ACTIONS


def table_statement(
    sid: str,
    table_arn: str,
    actions: tuple[str, ...],
    index_arn: str | None = None,
    leading_keys: list[str] | None = None,
) -> iam.PolicyStatement:
    """Item access to one table (and its indexes when `index_arn` is given); with
    `leading_keys`, only to items whose partition key matches one of those `StringLike` patterns
    (`dynamodb:LeadingKeys`)."""
    conditions = (
        {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": leading_keys}}
        if leading_keys is not None
        else None
    )
    return iam.PolicyStatement(
        sid=sid,
        actions=sorted(set(actions)),
        resources=[table_arn, *([index_arn] if index_arn else [])],
        conditions=conditions,
    )


def idempotency_key_patterns(stage: str, agent: str) -> list[str]:
    """The partition keys (`id`) of an agent's own idempotency claims, as `StringLike` patterns.

    Powertools' DynamoDB layer keys a claim `<function name>.<module>.<function>#<hash>`, the
    function name being the agent's Lambda (`naming.function_name`): `soorma-dev-shop.*` is every
    claim of `shop` and of no other agent (agent names hold no `.`, so `soorma-dev-shop.*` does
    not match `soorma-dev-shop-2.…`). An agent can neither read nor rewrite another's claims, so
    it cannot make another agent re-publish a forged stored outbox. Its pending requests
    (`<agent>#request#<id>`) are its own too, so no agent can forge another's reply ledger.
    """
    return [
        f"{naming.function_name(stage, agent)}.*",
        # The requests the agent sent, waiting for their replies (`soorma.requests`).
        naming.pending_request_key(agent, "*"),
    ]


#: What Bedrock's Converse (and ConverseStream) is authorized by.
BEDROCK_INVOKE_ACTIONS = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")
#: The prefixes of Bedrock's system-defined cross-Region inference profiles (`us.anthropic...`).
INFERENCE_PROFILE_GEOGRAPHIES = ("us", "us-gov", "eu", "apac", "jp", "au", "ca", "global")


def profile_underlying(model: str) -> str | None:
    """The model behind a cross-Region inference profile id (`us.<model>` -> `<model>`), or None
    for a foundation model id or an ARN."""
    geography, _, underlying = model.partition(".")
    if model.startswith("arn:") or geography not in INFERENCE_PROFILE_GEOGRAPHIES:
        return None
    return underlying or None


def bedrock_invoke_statements(models: list[str]) -> list[iam.PolicyStatement]:
    """Invoke rights on exactly the manifest's models, never `*`:

    - a foundation model id: its ARN in the stack's region;
    - a cross-Region inference profile id (`us.<model>`): the profile's ARN, and the model in
      the Regions the profile routes to (`*` Region: AWS picks it), usable only through that
      profile (`bedrock:InferenceProfileArn`);
    - an ARN: as given (an application inference profile's underlying models must be granted
      by the deployer, e.g. `AgentFunction.role.add_to_principal_policy`).
    """
    direct: list[str] = []
    profiles: list[str] = []
    behind_profiles: list[str] = []
    for model in models:
        if model.startswith("arn:"):
            direct.append(model)
            continue
        underlying = profile_underlying(model)
        if underlying is not None:
            account = f"{Aws.REGION}:{Aws.ACCOUNT_ID}"
            profile = f"arn:{Aws.PARTITION}:bedrock:{account}:inference-profile/{model}"
            profiles.append(profile)
            behind_profiles.append(f"arn:{Aws.PARTITION}:bedrock:*::foundation-model/{underlying}")
        else:
            direct.append(f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}::foundation-model/{model}")
    statements = []
    if direct or profiles:
        statements.append(
            iam.PolicyStatement(
                sid="InvokeDeclaredModels",
                actions=list(BEDROCK_INVOKE_ACTIONS),
                resources=direct + profiles,
            )
        )
    if behind_profiles:
        statements.append(
            iam.PolicyStatement(
                sid="InvokeModelsThroughDeclaredProfiles",
                actions=list(BEDROCK_INVOKE_ACTIONS),
                resources=behind_profiles,
                conditions={"StringEquals": {"bedrock:InferenceProfileArn": profiles}},
            )
        )
    return statements
