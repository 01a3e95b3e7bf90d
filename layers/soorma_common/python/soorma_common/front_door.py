"""The front door's contract: its name (its events' source), the environment variables its
function reads, and their defaults.

One spelling for the function (`functions/front_door`) and the CDK construct
(`infra.front_door`), which sets the variables; docs/front-door.md lists them.
"""

from __future__ import annotations

from soorma_common.topics import EventTopic

#: The front door's name: the events it publishes carry the source `soorma.front-door`.
FRONT_DOOR = "front-door"

#: How the API authenticates callers: `jwt` (claims from the JWT authorizer) or `iam` (SigV4;
#: tenant and user from `DEFAULT_TENANT` / `DEFAULT_USER`).
AUTH_MODE = "SOORMA_FRONT_DOOR_AUTH"
#: The JWT claim holding the caller's tenant (default `DEFAULT_TENANT_CLAIM`).
TENANT_CLAIM = "SOORMA_FRONT_DOOR_TENANT_CLAIM"
#: The JWT claim holding the caller's user (default `DEFAULT_USER_CLAIM`).
USER_CLAIM = "SOORMA_FRONT_DOOR_USER_CLAIM"
#: With IAM auth: the tenant (and user) every caller acts as.
DEFAULT_TENANT = "SOORMA_FRONT_DOOR_DEFAULT_TENANT"
DEFAULT_USER = "SOORMA_FRONT_DOOR_DEFAULT_USER"
#: The topics callers may publish on, comma-separated (default `OPEN_TOPICS`).
TOPICS = "SOORMA_FRONT_DOOR_TOPICS"
#: How long one `POST /call` waits for its reply, in seconds.
CALL_SECONDS = "SOORMA_FRONT_DOOR_CALL_SECONDS"
#: API Gateway HTTP API's integration timeout, and the margin a call keeps below it.
MAX_INTEGRATION_SECONDS = 30
CALL_MARGIN_SECONDS = 3
#: Every variable the front door reads besides `soorma.config`'s.
VARIABLES = (
    AUTH_MODE,
    TENANT_CLAIM,
    USER_CLAIM,
    DEFAULT_TENANT,
    DEFAULT_USER,
    TOPICS,
    CALL_SECONDS,
)

JWT_AUTH = "jwt"
IAM_AUTH = "iam"
#: Cognito's spelling of a custom attribute in its tokens.
DEFAULT_TENANT_CLAIM = "custom:tenant_id"
DEFAULT_USER_CLAIM = "sub"
#: Work asked of agents, domain facts and human input: what the outside world may say. Replies,
#: plan, task, billing and system events are the platform's own.
OPEN_TOPICS = (
    EventTopic.ACTION_REQUESTS,
    EventTopic.BUSINESS_FACTS,
    EventTopic.NOTIFICATION_EVENTS,
)
#: The event log's partitions the front door reads (`soorma.event_log`): IAM `LeadingKeys`.
WORKFLOW_PARTITIONS = "CORR#*"
