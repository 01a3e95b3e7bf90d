"""The Bedrock provider: `bedrock-runtime` Converse with tool use and optional prompt caching.

The model id (a foundation model id or an inference profile id/ARN) comes from the argument or
from `SOORMA_LLM_MODEL_ID`, never from code. The boto3 client is the process-wide one of
`soorma.clients`, created on the first call (one per Lambda cold start).
"""

from __future__ import annotations

import os
from typing import Any, Final

from soorma.ai.providers.conversation import ModelRequest
from soorma.ai.providers.converse_shapes import converse_request, model_response
from soorma.ai.providers.decision import ModelResponse
from soorma.ai.providers.errors import (
    ModelNotConfiguredError,
    ModelRequestError,
    ModelUnavailableError,
)
from soorma_common.environment import LLM_MODEL_ID

#: The environment variable that names the model (or inference profile) to call.
MODEL_ID_VARIABLE: Final = LLM_MODEL_ID

#: Converse errors that a later try may not meet: the record fails and SQS redelivers it.
TRANSIENT_CODES: Final[dict[str, str]] = {
    "ThrottlingException": "Bedrock throttled the call; SQS will redeliver the record. If it "
    "persists, raise the model's requests/tokens-per-minute quota or use a cross-region "
    "inference profile",
    "ServiceUnavailableException": "Bedrock is unavailable right now; SQS will redeliver the "
    "record",
    "InternalServerException": "Bedrock failed internally; SQS will redeliver the record",
    "ModelTimeoutException": "the model took too long to answer; SQS will redeliver the record. "
    "If it persists, lower maxTokens or shorten the prompt",
    "ModelNotReadyException": "the model is not ready to serve requests yet; SQS will redeliver "
    "the record",
}

#: Converse errors that no retry can fix: the record goes to the dead-letter queue.
PERMANENT_CODES: Final[dict[str, str]] = {
    "ValidationException": "Bedrock rejected the request as invalid: check that the model "
    "supports tool use, system prompts (and prompt caching, if switched on), and that every "
    "tool's input schema is a JSON Schema object",
    "AccessDeniedException": "access denied: grant the function bedrock:InvokeModel on this "
    "model or inference profile, and enable access to the model in the Bedrock console",
    "ResourceNotFoundException": "no such model in this region: check SOORMA_LLM_MODEL_ID and "
    "AWS_REGION, or use an inference profile id",
    "ModelErrorException": "the model failed while processing the request: inspect the prompt "
    "and tools, or try another model",
}


def model_id_from_environment(env: dict[str, str] | None = None) -> str:
    """The model id in `SOORMA_LLM_MODEL_ID` (`env` defaults to `os.environ`)."""
    value = (os.environ if env is None else env).get(MODEL_ID_VARIABLE, "").strip()
    if not value:
        raise ModelNotConfiguredError(
            f"no language model configured: set {MODEL_ID_VARIABLE} to a Bedrock model id or "
            "inference profile (e.g. from the agent's manifest), or pass model_id="
        )
    return value


class BedrockConverseProvider:
    """A `LanguageModel` backed by Amazon Bedrock's Converse API."""

    def __init__(
        self,
        model_id: str | None = None,
        *,
        prompt_caching: bool = False,
        client: Any | None = None,
    ) -> None:
        """`model_id`: a model id or inference profile id/ARN (default: `SOORMA_LLM_MODEL_ID`).
        `prompt_caching`: send `cachePoint` blocks after the tools and the system prompt (only
        for models that support prompt caching). `client`: a `bedrock-runtime` client to use
        instead of the process-wide one."""
        self.model_id = model_id or model_id_from_environment()
        self.prompt_caching = prompt_caching
        self._client = client

    def converse(self, request: ModelRequest) -> ModelResponse:
        """Call Converse once; map its errors to transient or permanent Soorma errors."""
        from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
        from botocore.exceptions import ConnectionError as BotoConnectionError

        kwargs = converse_request(request, prompt_caching=self.prompt_caching)
        try:
            raw = self._bedrock().converse(modelId=self.model_id, **kwargs)
        except ClientError as exc:
            raise self._mapped(exc) from exc
        except (BotoConnectionError, HTTPClientError) as exc:  # nothing was answered
            raise ModelUnavailableError(
                f"could not reach Bedrock for model {self.model_id} ({exc}); SQS will "
                "redeliver the record",
                model_id=self.model_id,
                code=type(exc).__name__,
            ) from exc
        except BotoCoreError as exc:  # region, credentials, parameters: configuration or code
            raise ModelRequestError(
                f"could not call Bedrock for model {self.model_id}: {exc} - check the "
                "function's region and credentials, and the request",
                model_id=self.model_id,
                code=type(exc).__name__,
            ) from exc
        return model_response(raw, model_id=self.model_id)

    def _bedrock(self) -> Any:
        if self._client is None:
            from soorma import clients

            self._client = clients.client("bedrock-runtime")
        return self._client

    def _mapped(self, exc: Any) -> ModelUnavailableError | ModelRequestError:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        detail = error.get("Message") or str(exc)
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in TRANSIENT_CODES or (code not in PERMANENT_CODES and _retryable(status)):
            advice = TRANSIENT_CODES.get(code, "SQS will redeliver the record")
            return ModelUnavailableError(
                f"model {self.model_id}: {code}: {detail} - {advice}",
                model_id=self.model_id,
                code=code,
            )
        advice = PERMANENT_CODES.get(code, "fix the request or the configuration")
        return ModelRequestError(
            f"model {self.model_id}: {code}: {detail} - {advice}",
            model_id=self.model_id,
            code=code,
        )


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500
