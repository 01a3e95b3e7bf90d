"""Each contract is spelled once: the CDK app, the platform functions and the dev tools' copy of
the platform use `soorma_common`'s constants, never their own literals for the TTL attribute,
the metrics namespace or the function environment's variable names."""

from __future__ import annotations

import ast
import re

from infra.paths import REPO_ROOT
from soorma_common.delivery import METRICS_NAMESPACE, TTL_ATTRIBUTE

#: Names that only `soorma_common` may spell.
OWNED_ELSEWHERE = re.compile(
    rf"^({re.escape(TTL_ATTRIBUTE)}|{re.escape(METRICS_NAMESPACE)}"
    r"|SOORMA_[A-Z_]+|POWERTOOLS_SERVICE_NAME|POWERTOOLS_METRICS_NAMESPACE)$"
)
#: Modules that deploy or copy the platform.
MODULES = [
    *sorted((REPO_ROOT / "infra").rglob("*.py")),
    *sorted((REPO_ROOT / "functions").rglob("*.py")),
    *(REPO_ROOT / "soorma_dev" / name for name in ("provision.py", "pytest_plugin.py")),
    REPO_ROOT / "soorma_dev" / "harness.py",
]


def literals(tree: ast.AST) -> list[str]:
    """String constants equal to a name `soorma_common` owns (docstrings are prose)."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        f"line {node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and OWNED_ELSEWHERE.match(node.value)
    ]


def test_no_module_spells_a_contract_name_of_its_own() -> None:
    offenders = {
        str(path.relative_to(REPO_ROOT)): found
        for path in MODULES
        if (found := literals(ast.parse(path.read_text(), str(path))))
    }
    assert offenders == {}


def test_the_check_finds_literals_but_not_prose() -> None:
    source = (
        '"""Items carry `expires_at`."""\n'
        'item = {"expires_at": 1}\nnamespace = "Soorma"\nenv = {"SOORMA_STAGE": "dev"}\n'
        'label = "Soorma agent"\n'
    )
    assert len(literals(ast.parse(source))) == 3
