"""Errors of language-model providers, in Soorma's one hierarchy.

Transient ones (`ModelUnavailableError`) fail the record so that SQS redelivers it; permanent
ones go to the dead-letter queue at once. Every message names the model and what to do.
"""

from __future__ import annotations

from soorma_common.errors import PermanentError, TransientError


class ModelUnavailableError(TransientError):
    """The model could not answer now (throttled, not ready, timed out, service error)."""

    def __init__(self, message: str, *, model_id: str, code: str) -> None:
        super().__init__(message)
        self.model_id = model_id
        self.code = code


class ModelRequestError(PermanentError):
    """The provider refused the request for good (invalid, denied, unknown model, model error)."""

    def __init__(self, message: str, *, model_id: str, code: str) -> None:
        super().__init__(message)
        self.model_id = model_id
        self.code = code


class ModelNotConfiguredError(PermanentError):
    """No model id was given, neither as an argument nor in `SOORMA_LLM_MODEL_ID`."""


class ScriptExhaustedError(PermanentError):
    """A scripted model was called more often than its script has answers."""


class RecordingMissError(PermanentError, LookupError):
    """A recorded model was asked a request that is not in its recording."""

    def __init__(self, message: str, *, fingerprint: str, path: str) -> None:
        super().__init__(message)
        self.fingerprint = fingerprint
        self.path = path
