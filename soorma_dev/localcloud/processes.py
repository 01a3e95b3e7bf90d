"""Child processes of the local cloud: their environment, and stopping them for sure."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import soorma_dev

#: Dummy credentials: the local cloud never talks to AWS.
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
LOCAL_REGION = "us-east-1"


def import_paths() -> list[str]:
    """Where `soorma`, `soorma_common` and `soorma_dev` are importable from (for children)."""
    import soorma
    import soorma_common

    paths = [soorma_dev, soorma, soorma_common]
    return list(dict.fromkeys(str(Path(str(p.__file__)).resolve().parent.parent) for p in paths))


def child_environment(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment minus every AWS_* variable (profiles, endpoints), plus dummy
    credentials, the import paths of our packages, and `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(LOCAL_CREDENTIALS)
    python_path = [*import_paths(), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(python_path))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def stop_process(process: subprocess.Popen[str], timeout: float = 5.0) -> None:
    """Terminate `process`, kill it if it has not ended within `timeout` s, and reap it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
