"""Cold start of a Soorma agent vs the lean hand-written handler: import + first batch.

Each sample is a fresh interpreter (`subprocess`) that imports the handler module, then handles
one SQS batch of 10 records (read before the clock starts), with real boto3 clients whose calls
are answered in-process by botocore hooks (no network; `stubs.answer_without_network`): the
Soorma runtime creates its clients on the first batch, the hand-written module at import, and
both are inside "import + first batch". Tracing is off (`POWERTOOLS_TRACE_DISABLED`), as are EMF
metrics. Each handler runs with idempotency claims on (a DynamoDB client, the claim table) and
off (no DynamoDB client is made; the lean module still imports Powertools idempotency, which it
declares at module level). The lean handler validates the wire fields with its small pydantic
model (the issue's baseline, which imports pydantic) and, as "lean no model"
(`LEAN_WIRE_MODEL=off`), checks them by hand without importing pydantic. Samples are interleaved
(the order rotates each round); printed: the median over N samples of the import and of import
+ first batch for each, and the ratios Soorma / lean of import + first batch, claims on and off
(acceptance: <= 0.9), and Soorma / lean no model. `--padded` adds the older padded hand-written
baseline.

    .venv/bin/python benchmarks/cold_import.py [--samples 7] [--padded]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHONPATH = os.pathsep.join(
    [str(ROOT / "layers" / "soorma_common" / "python"), str(ROOT), str(ROOT / "benchmarks")]
)

SAMPLE = r"""
import json, sys, time


class Context:
    function_name = "cold"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:cold"
    memory_limit_in_mb = 256
    aws_request_id = "cold"

    def get_remaining_time_in_millis(self):
        return 30000


batch = json.load(open(sys.argv[1]))
start = time.perf_counter()
import {module} as handler_module
imported = time.perf_counter()
from stubs import answer_without_network
{hook}
response = handler_module.{entry}(batch, Context())
done = time.perf_counter()
assert response["batchItemFailures"] == [], response
print(json.dumps({{"import": imported - start, "total": done - start}}))
"""

SOORMA_HOOK = """
from soorma import clients
answer_without_network(clients.client("events"))
"""
SOORMA_CLAIMS_HOOK = (
    SOORMA_HOOK
    + """
answer_without_network(clients.client("dynamodb"))
"""
)
LEAN_HOOK = """
answer_without_network(handler_module.events)
handler_module.use_idempotency(False)
"""
LEAN_CLAIMS_HOOK = """
answer_without_network(handler_module.events)
answer_without_network(handler_module.persistence.client)
"""
#: Name -> (module, entry point, hook run after the import, extra environment).
CANDIDATES: dict[str, tuple[str, str, str, dict[str, str]]] = {
    "soorma, claims on": ("soorma_handler", "handler", SOORMA_CLAIMS_HOOK, {}),
    "lean, claims on": ("lean_handler", "lambda_handler", LEAN_CLAIMS_HOOK, {}),
    "soorma, claims off": ("soorma_handler", "handler", SOORMA_HOOK, {"SOORMA_IDEMPOTENCY": "off"}),
    "lean, claims off": ("lean_handler", "lambda_handler", LEAN_HOOK, {}),
    "lean no model, claims on": (
        "lean_handler",
        "lambda_handler",
        LEAN_CLAIMS_HOOK,
        {"LEAN_WIRE_MODEL": "off"},
    ),
    "lean no model, claims off": (
        "lean_handler",
        "lambda_handler",
        LEAN_HOOK,
        {"LEAN_WIRE_MODEL": "off"},
    ),
}
PADDED = ("handwritten_handler", "lambda_handler", LEAN_CLAIMS_HOOK, {})
#: Acceptance: Soorma's import + first batch at most this fraction of the lean handler's.
TARGET = 0.9


def sample(name: str, batch_file: str, extra_env: dict[str, str]) -> dict[str, float]:
    """One cold start of `name` in a new interpreter (`extra_env` added to every candidate's)."""
    module, entry, hook, extra = CANDIDATES.get(name) or PADDED
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": PYTHONPATH,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "SOORMA_EVENT_BUS": "soorma-bench",
        "SOORMA_IDEMPOTENCY_TABLE": "bench-idempotency",
        "IDEMPOTENCY_TABLE": "bench-idempotency",
        **extra,
        **extra_env,
    }
    code = SAMPLE.format(module=module, entry=entry, hook=hook)
    done = subprocess.run(
        [sys.executable, "-c", code, batch_file],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{name} cold start failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=7)
    parser.add_argument("--padded", action="store_true", help="add the padded hand-written one")
    parser.add_argument(
        "--no-pydantic-plugins",
        action="store_true",
        help="set PYDANTIC_DISABLE_PLUGINS=__all__ (pydantic then skips its plugin discovery, "
        "a scan of every installed distribution's entry points, at the first model)",
    )
    args = parser.parse_args()

    import tempfile

    sys.path[:0] = PYTHONPATH.split(os.pathsep)
    from runtime_overhead import sqs_batches

    extra_env = {"PYDANTIC_DISABLE_PLUGINS": "__all__"} if args.no_pydantic_plugins else {}
    names = [*CANDIDATES, *(["padded hand-written, claims on"] if args.padded else [])]
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    with tempfile.NamedTemporaryFile("w", suffix=".json") as batch_file:
        json.dump(sqs_batches(10)[0], batch_file)
        batch_file.flush()
        for n in range(args.samples):
            for name in names[n % len(names) :] + names[: n % len(names)]:
                samples[name].append(sample(name, batch_file.name, extra_env))

    def median(name: str, key: str) -> float:
        return statistics.median(s[key] for s in samples[name])

    print(
        f"samples: {args.samples} fresh interpreters each, interleaved (median); tracing off; "
        "command: .venv/bin/python benchmarks/cold_import.py "
        f"--samples {args.samples}{' --padded' if args.padded else ''}"
        f"{' --no-pydantic-plugins' if args.no_pydantic_plugins else ''}"
    )
    for name in names:
        print(
            f"{name:34s} import {median(name, 'import') * 1000:6.0f} ms   "
            f"import + first batch {median(name, 'total') * 1000:6.0f} ms"
        )
    for baseline in ("lean", "lean no model"):
        for claims in ("on", "off"):
            ratio = median(f"soorma, claims {claims}", "total") / median(
                f"{baseline}, claims {claims}", "total"
            )
            verdict = "met" if ratio <= TARGET else "NOT met"
            print(
                f"import + first batch ratio soorma/{baseline}, claims {claims}: {ratio:.2f} "
                f"(target <= {TARGET}: {verdict})"
            )
    if args.padded:
        ratio = median("soorma, claims on", "total") / median(names[-1], "total")
        print(f"import + first batch ratio soorma/padded, claims on: {ratio:.2f}")


if __name__ == "__main__":
    main()
