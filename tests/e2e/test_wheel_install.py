"""Installed as a wheel, as a user installs a framework, the dev tools work: `soorma init`
(templates in the package), and the four pytest fixtures (`soorma_bus`, `soorma_moto`,
`soorma_tables`, `soorma_local_cloud`, whose event log ships in the package) in a user's test.

How the venv is made, cheaply and honestly: the wheel is built from a copy of the sources (as
`pip wheel` builds it: in an isolated build environment, with the `setuptools>=68` that
pyproject.toml requires, from the package index),
installed with `--no-deps` into a fresh venv (`--without-pip`) whose only view of the
dependencies is a `.pth` line naming the dev venv's site-packages. A `.pth` *line* only puts that
folder on `sys.path`; the `.pth` *files* inside it (the dev venv's editable install of this
repository) are not processed, so the repository is not importable: the test checks that
`soorma`, `soorma_common` and `soorma_dev` are imported from the wheel's files. (A venv made
with `--system-site-packages` would see the base interpreter's packages, not the dev venv's.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

SOURCES = [
    "pyproject.toml",
    "README.md",
    "layers/soorma_common/python",
    "soorma_dev",
    "functions/event_log",
]

USER_TEST = """
from pathlib import Path

import boto3

AGENTS = Path(__file__).parent / "hello-world"


def test_soorma_bus(soorma_bus):
    bus = soorma_bus(AGENTS)
    bus.send("visitor.arrived", {"name": "Ada"}, topic="business-facts")
    bus.run_until_idle()
    assert [e.type for e in bus.published if e.type == "visitor.greeted"] == ["visitor.greeted"]


def test_soorma_tables(soorma_tables):
    dynamodb = boto3.client("dynamodb")
    for name in soorma_tables.values():
        assert dynamodb.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE"


def test_soorma_local_cloud(soorma_local_cloud):
    cloud = soorma_local_cloud(AGENTS)
    sent = cloud.send("visitor.arrived", {"name": "Ada"}, topic="business-facts")
    cloud.wait_until_idle(timeout=120)
    roots = cloud.trace(sent.correlation_id)
    logged = [node.envelope.type for root in roots for node in root.walk()]
    assert "visitor.greeted" in logged  # written by the event log shipped in the wheel
"""


def run(*args: str | Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"{args}:\n{done.stdout}\n{done.stderr}"
    return done


def test_the_wheel_runs_soorma_init_and_the_four_fixtures(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env |= {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    env |= {"AWS_DEFAULT_REGION": "us-east-1", "PYTHONDONTWRITEBYTECODE": "1"}

    source = tmp_path / "source"  # the sources as in the repository, the event log's link too
    for name in SOURCES:
        if (REPO / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__")
            shutil.copytree(REPO / name, source / name, symlinks=True, ignore=ignore)
        else:
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO / name, source / name)
    assert (source / "soorma_dev" / "platform_functions" / "event_log").is_symlink()
    run(
        sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
        "--wheel-dir", tmp_path / "dist", source, cwd=tmp_path, env=env,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("soorma_serverless-*.whl")

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path, env=env)
    python = venv / "bin" / "python"
    site = Path(
        run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
            cwd=tmp_path, env=env).stdout.strip()
    )  # fmt: skip
    (site / "dev_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run(python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", wheel,
        cwd=tmp_path, env=env)  # fmt: skip

    where = run(
        python, "-c",
        "import soorma, soorma_common, soorma_dev; "
        "print(soorma.__file__, soorma_common.__file__, soorma_dev.__file__)",
        cwd=tmp_path, env=env,
    ).stdout.split()  # fmt: skip
    assert all(path.startswith(str(site)) for path in where), where  # not the repository

    project = tmp_path / "project"
    project.mkdir()
    run(venv / "bin" / "soorma", "init", "billing", "--kind", "worker", "--dir", "functions",
        cwd=project, env=env)  # fmt: skip
    shutil.copytree(REPO / "examples" / "hello-world", project / "tests" / "hello-world")
    (project / "tests" / "test_fixtures.py").write_text(USER_TEST)

    tested = run(
        python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
        "functions", "tests", cwd=project, env=env,
    )  # fmt: skip
    assert "4 passed" in tested.stdout, tested.stdout  # soorma_moto: the generated test
