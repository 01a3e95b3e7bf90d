"""Where `soorma events|graph|asyncapi` (no path) and `soorma memory forget` read and write:
the running local cloud, found by itself as `send` and `trace` find it, or an AWS account.

- `--endpoint-url` (or `AWS_ENDPOINT_URL`) given: that endpoint, with the stage's table and the
  credentials of the environment;
- else a local cloud running with `--state-dir` (`.soorma`): its DynamoDB endpoint, its tables
  and dummy credentials;
- else AWS, with the environment's credentials and the stage's table.

Failures are one line each (`CommandError`): no credentials, nothing answering at the
endpoint (a dead port is not blamed on credentials), no such table.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soorma_dev.cli.errors import EXIT_FAILED, EXIT_NOT_RUNNING, CommandError


@dataclass(frozen=True)
class DynamoTarget:
    """A DynamoDB client and the table of one role (`registry`, `memory`) there."""

    client: Any
    table: str
    where: str

    @classmethod
    def find(
        cls,
        role: str,
        *,
        endpoint_url: str | None,
        table: str | None,
        stage: str,
        state_dir: Path,
    ) -> DynamoTarget:
        """The target of `role` (see the module docstring for the order)."""
        import boto3

        from soorma_common.naming import table_name

        if endpoint_url:
            client = boto3.session.Session().client("dynamodb", endpoint_url=endpoint_url)
            return cls(client, table or table_name(stage, role), endpoint_url)
        running = _running_local_cloud(state_dir)
        if running is not None:
            name = table or running.platform.tables.get(role) or table_name(stage, role)
            return cls(
                running.client("dynamodb"), name, f"the local cloud at {running.endpoint_url}"
            )
        client = boto3.session.Session().client("dynamodb")
        return cls(client, table or table_name(stage, role), "AWS")


def _running_local_cloud(state_dir: Path) -> Any:
    from soorma_dev.localcloud import LocalCloudClient, LocalCloudNotRunning

    if not (state_dir / "local.json").is_file():
        return None
    try:
        return LocalCloudClient.connect(state_dir)
    except LocalCloudNotRunning:
        return None


@contextmanager
def dynamodb_errors(target: DynamoTarget | None = None) -> Iterator[None]:
    """Turn botocore's failures into one-line `CommandError`s that say what to do."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
    )

    where = target.where if target else "AWS"
    try:
        yield
    except EndpointConnectionError as exc:
        raise CommandError(
            f"nothing answers at {exc.kwargs.get('endpoint_url', where)}",
            hint="start the local cloud with `soorma dev`, or fix --endpoint-url "
            "(AWS_ENDPOINT_URL); credentials are not the problem",
            code=EXIT_NOT_RUNNING,
        ) from None
    except (NoCredentialsError, PartialCredentialsError, NoRegionError) as exc:
        raise CommandError(
            f"no AWS credentials or region to reach {where}: {exc}",
            hint="run `soorma dev` in this folder to use the local cloud, or configure AWS "
            "(AWS_PROFILE / `aws configure`, AWS_REGION)",
        ) from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") == "ResourceNotFoundException" and target is not None:
            raise CommandError(
                f"table {target.table!r} does not exist in {where}",
                hint="check --stage (SOORMA_STAGE) or --table, or deploy the stage",
                code=EXIT_FAILED,
            ) from None
        raise CommandError(
            f"{where} refused the request: {error.get('Code')}: {error.get('Message')}",
            hint="check the credentials' permissions and --stage",
            code=EXIT_FAILED,
        ) from None
