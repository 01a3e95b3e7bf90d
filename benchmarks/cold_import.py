"""Cold start of a Soorma agent module vs the hand-written handler modules (lean and padded).

Each sample is a fresh interpreter (`subprocess`) that imports the handler module, then handles
one SQS batch of 10 records (read before the clock starts), with real boto3 clients whose calls
are answered in-process by botocore hooks (no network; `stubs.answer_without_network`): the
Soorma runtime creates its clients on the first batch, the hand-written module at import, and
both are inside "import + first batch". Printed: the median, over N
alternating samples, of the module import time and of import + first batch, for both, and the
ratios (Soorma / hand-written; target for the import ratio <= 1.0).

    .venv/bin/python benchmarks/cold_import.py [--samples 7]
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
answer_without_network(clients.client("dynamodb"))
"""
HANDWRITTEN_HOOK = """
answer_without_network(handler_module.events)
answer_without_network(handler_module.persistence.client)
"""

CANDIDATES = {
    "soorma": ("soorma_handler", "handler", SOORMA_HOOK),
    "lean": ("lean_handler", "lambda_handler", HANDWRITTEN_HOOK),
    "handwritten": ("handwritten_handler", "lambda_handler", HANDWRITTEN_HOOK),
}


def sample(name: str, batch_file: str) -> dict[str, float]:
    """One cold start of `name` in a new interpreter."""
    module, entry, hook = CANDIDATES[name]
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
    args = parser.parse_args()

    import tempfile

    sys.path[:0] = PYTHONPATH.split(os.pathsep)
    from runtime_overhead import sqs_batches

    samples: dict[str, list[dict[str, float]]] = {name: [] for name in CANDIDATES}
    with tempfile.NamedTemporaryFile("w", suffix=".json") as batch_file:
        json.dump(sqs_batches(10)[0], batch_file)
        batch_file.flush()
        for n in range(args.samples):
            names = list(CANDIDATES)
            for name in names[n % len(names) :] + names[: n % len(names)]:
                samples[name].append(sample(name, batch_file.name))

    def median(name: str, key: str) -> float:
        return statistics.median(s[key] for s in samples[name])

    def total(name: str) -> float:
        return median(name, "total")

    print(f"samples: {args.samples} fresh interpreters each (median)")
    for name in CANDIDATES:
        print(
            f"{name:12s} import {median(name, 'import') * 1000:6.0f} ms   "
            f"import + first batch {total(name) * 1000:6.0f} ms"
        )
    for baseline in ("lean", "handwritten"):
        import_ratio = median("soorma", "import") / median(baseline, "import")
        total_ratio = total("soorma") / total(baseline)
        print(f"cold import ratio (soorma / {baseline}): {import_ratio:.2f}  target <= 1.0")
        print(f"import + first batch ratio (soorma / {baseline}): {total_ratio:.2f}")


if __name__ == "__main__":
    main()
