"""The one seam between Soorma and a language model."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from soorma.ai.providers.conversation import ModelRequest
from soorma.ai.providers.decision import ModelResponse


@runtime_checkable
class LanguageModel(Protocol):
    """Anything that answers a `ModelRequest` with a `ModelResponse`.

    Implementations raise `ModelUnavailableError` (transient) or a `PermanentError` subclass;
    they never retry on their own beyond their client's retries, so that a Lambda invocation
    fails fast and SQS redelivers the record.
    """

    def converse(self, request: ModelRequest) -> ModelResponse:
        """Send `request` to the model and return its answer."""
        ...
