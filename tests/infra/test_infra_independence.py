"""`infra/` needs only the SDK: it imports nothing from the dev tools (`soorma_dev`), and the
CDK app synthesizes in a process where `soorma_dev` cannot be imported at all (nor in the child
process that reads the manifests)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from infra.paths import LAYER_ROOT, REPO_ROOT

DEV_TOOLS = "soorma_dev"
#: Installed first on `sys.meta_path` of every Python process started with it on PYTHONPATH.
BLOCKER = f'''
import sys


class _Blocked:
    def find_spec(self, name, path=None, target=None):
        if name == "{DEV_TOOLS}" or name.startswith("{DEV_TOOLS}."):
            raise ImportError(f"{{name}} is blocked: infra must not need the dev tools")
        return None


sys.meta_path.insert(0, _Blocked())
'''


def infra_modules() -> list[Path]:
    return [REPO_ROOT / "app.py", *sorted((REPO_ROOT / "infra").rglob("*.py"))]


def dev_tools_references(tree: ast.AST) -> list[str]:
    """Imports of `soorma_dev` (top-level, function-local, TYPE_CHECKING) and string constants
    naming it (`python -m soorma_dev`, `importlib.import_module("soorma_dev...")`)."""
    found: list[str] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value]
        found += [f"line {node.lineno}: {n}" for n in names if n.split(".")[0] == DEV_TOOLS]
    return found


def test_no_module_of_infra_refers_to_the_dev_tools() -> None:
    modules = infra_modules()
    assert len(modules) > 10  # app.py and the infra package
    offenders = {
        str(path.relative_to(REPO_ROOT)): refs
        for path in modules
        if (refs := dev_tools_references(ast.parse(path.read_text(), str(path))))
    }
    assert offenders == {}


def test_the_reference_check_sees_every_kind_of_import() -> None:
    source = (
        "import soorma_dev.cli\nfrom soorma_dev import x\n"
        "def f():\n    from soorma_dev.manifests import y\n"
        "run(['python', '-m', 'soorma_dev'])\nimport soorma_devtools\n"
    )
    assert len(dev_tools_references(ast.parse(source))) == 4


def test_the_app_synthesizes_without_the_dev_tools(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(BLOCKER)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(blocker), str(LAYER_ROOT / "python")])
    env["CDK_OUTDIR"] = str(tmp_path / "cdk.out")
    env.pop("CDK_CONTEXT_JSON", None)

    blocked = subprocess.run(
        [sys.executable, "-c", f"import {DEV_TOOLS}"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO_ROOT,
        env=env,
    )
    assert blocked.returncode != 0 and "is blocked" in blocked.stderr  # the blocker works

    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "app.py")],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO_ROOT,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    root = json.loads((tmp_path / "cdk.out" / "soorma-dev.template.json").read_text())
    (sync,) = (r for r in root["Resources"].values() if r["Type"] == "Custom::SoormaRegistrySync")
    # the manifests were read in the (equally blocked) child process
    assert [m["name"] for m in json.loads(sync["Properties"]["Manifests"])] == ["event-log"]
