"""Recorded exchanges: replay a JSON Lines file of Converse exchanges offline, and record one.

Each line is one exchange, as compact JSON with sorted keys:
`{"fingerprint": "sha256:...", "model_id": ..., "request": <Converse request>, "response":
<Converse response>}`. The fingerprint is the SHA-256 of the Converse request (without
`modelId`) in that canonical form, so it does not depend on dict ordering, and a recording
re-recorded from its own replay is the same file, byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import deque
from pathlib import Path
from typing import Any

from soorma.ai.providers.conversation import ModelRequest
from soorma.ai.providers.converse_shapes import converse_request, converse_response, model_response
from soorma.ai.providers.decision import ModelResponse
from soorma.ai.providers.errors import RecordingMissError
from soorma.ai.providers.protocol import LanguageModel
from soorma_common.errors import PermanentError


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys and unescaped Unicode: one text per value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _digest(converse: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(converse).encode("utf-8")).hexdigest()


def request_fingerprint(request: ModelRequest) -> str:
    """The fingerprint of what the model is shown: `sha256:` and the hex digest of the canonical
    Converse request (messages, system, inference and tool configuration; no model id)."""
    return _digest(converse_request(request))


def exchange_line(request: ModelRequest, response: ModelResponse) -> str:
    """One line of a recording (without the newline)."""
    converse = converse_request(request)
    return canonical_json(
        {
            "fingerprint": _digest(converse),
            "model_id": response.model_id,
            "request": converse,
            "response": converse_response(response),
        }
    )


class RecordedProvider:
    """A `LanguageModel` that answers from a recording, never from a model.

    Answers for one fingerprint are served in recorded order; once they are used up, the last one
    repeats (the same question gets the same answer). A request that is not in the recording is
    a `RecordingMissError` naming its fingerprint and the file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._answers: dict[str, deque[ModelResponse]] = {}
        self._last: dict[str, ModelResponse] = {}
        self._lock = threading.Lock()
        self.exchanges = 0
        self._load()

    def _load(self) -> None:
        text = self.path.read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                exchange = json.loads(line)
                fingerprint = exchange["fingerprint"]
                response = model_response(exchange["response"], model_id=exchange["model_id"])
                intact = fingerprint == _digest(exchange["request"])
            except (ValueError, KeyError, TypeError) as exc:
                raise PermanentError(
                    f"{self.path}:{number} is not a recorded exchange ({exc}): record it again "
                    "with RecordingProvider"
                ) from exc
            if not intact:
                raise PermanentError(
                    f"{self.path}:{number}: the fingerprint {fingerprint} does not match the "
                    "recorded request (was the file edited by hand?): record it again"
                )
            self._answers.setdefault(fingerprint, deque()).append(response)
            self.exchanges += 1

    def converse(self, request: ModelRequest) -> ModelResponse:
        """The recorded answer to `request`."""
        fingerprint = request_fingerprint(request)
        with self._lock:
            answers = self._answers.get(fingerprint)
            if answers:
                answer = answers.popleft()
                self._last[fingerprint] = answer
                if not answers:
                    del self._answers[fingerprint]
                return answer
            if fingerprint in self._last:
                return self._last[fingerprint]
        raise RecordingMissError(
            f"request {fingerprint} is not in the recording {self.path}: the prompt, the tools or "
            "the options changed since it was recorded. Record it again against the model with "
            "RecordingProvider (or use a scripted model)",
            fingerprint=fingerprint,
            path=str(self.path),
        )


class RecordingProvider:
    """A `LanguageModel` that forwards to `model` and appends every exchange to `path`.

    Failed calls are not recorded (they raise as they would without the recorder).
    """

    def __init__(self, model: LanguageModel, path: str | Path) -> None:
        self.model = model
        self.path = Path(path)
        self._lock = threading.Lock()

    def converse(self, request: ModelRequest) -> ModelResponse:
        """Ask the wrapped model, record the exchange, return its answer."""
        response = self.model.converse(request)
        line = exchange_line(request, response)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as recording:
                recording.write(line + "\n")
        return response
