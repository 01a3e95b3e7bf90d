"""Function assets: a folder as is, or with its `requirements.txt` installed by pip for Lambda.

No network: the requirement is a tiny pure-Python wheel written here, found by pip through
`PIP_NO_INDEX` / `PIP_FIND_LINKS` (pip reads its options from the environment, and the bundling
step's pip inherits this process's environment).
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from infra.agent_function import AgentFunction, AgentFunctionProps
from infra.bundling import LAMBDA_PLATFORM, needs_bundling, pip_install_command
from infra.platform import SoormaPlatform, SoormaPlatformProps
from soorma_common.manifest import AgentKind, AgentManifest, Subscription
from soorma_common.topics import EventTopic

MANIFEST = AgentManifest(
    name="checker",
    kind=AgentKind.WORKER,
    subscriptions=[Subscription(topic=EventTopic.ACTION_REQUESTS, event_type="check.run")],
)
HANDLER = "import tinydep\n\ndef handler(event, context):\n    return tinydep.VALUE\n"


def write_wheel(folder: Path, name: str = "tinydep", version: str = "1.0") -> Path:
    """A minimal pure-Python wheel (py3-none-any), written by hand."""
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": "VALUE = 'bundled'\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: soorma-tests\nRoot-Is-Purelib: true\n"
            "Tag: py3-none-any\n"
        ),
    }
    record = "".join(f"{path},,\n" for path in [*files, f"{info}/RECORD"])
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in {**files, f"{info}/RECORD": record}.items():
            archive.writestr(path, text)
    return wheel


def synth_agent(code: Path, outdir: Path) -> tuple[Path, dict[str, object]]:
    """Synthesize one AgentFunction from `code`; return (its asset folder, the function)."""
    app = App(outdir=str(outdir))
    stack = Stack(app, "Bundling")
    platform = SoormaPlatform(stack, "Platform", SoormaPlatformProps(stage="dev"))
    AgentFunction(
        stack,
        "Agent",
        AgentFunctionProps(
            manifest=MANIFEST,
            code_path=code,
            stage="dev",
            bus=platform.bus,
            tables=platform.tables,
            layers=platform.layers,
        ),
    )
    app.synth()
    (function,) = Template.from_stack(stack).find_resources("AWS::Lambda::Function").values()
    asset_hash = function["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    return outdir / f"asset.{asset_hash}", function


@pytest.fixture
def code(tmp_path: Path) -> Path:
    folder = tmp_path / "checker"
    folder.mkdir()
    (folder / "handler.py").write_text(HANDLER)
    return folder


def test_the_pip_command_targets_lambdas_platform_with_binary_wheels_only() -> None:
    command = pip_install_command(Path("f/requirements.txt"), Path("out"), python="py")
    assert command[:4] == ["py", "-m", "pip", "install"]
    flags = " ".join(command)
    assert f"--platform {LAMBDA_PLATFORM}" in flags and LAMBDA_PLATFORM == "manylinux2014_aarch64"
    assert "--implementation cp --python-version 3.13" in flags
    assert "--only-binary=:all:" in command
    assert "--target out" in flags and "--requirement f/requirements.txt" in flags
    assert pip_install_command(Path("r"), Path("o"))[0] == sys.executable


def test_a_folder_without_requirements_is_uploaded_as_it_is(code: Path, tmp_path: Path) -> None:
    assert not needs_bundling(code)
    (code / "__pycache__").mkdir()
    (code / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"")
    asset, _ = synth_agent(code, tmp_path / "cdk.out")
    assert sorted(p.name for p in asset.iterdir()) == ["handler.py"]


def test_requirements_are_installed_into_the_asset_by_pip(
    code: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheels = write_wheel(tmp_path / "wheels").parent
    (code / "requirements.txt").write_text("tinydep==1.0\n")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    assert needs_bundling(code)

    asset, function = synth_agent(code, tmp_path / "cdk.out")

    assert (asset / "handler.py").read_text() == HANDLER
    assert (asset / "tinydep" / "__init__.py").read_text() == "VALUE = 'bundled'\n"
    assert (asset / "tinydep-1.0.dist-info" / "METADATA").is_file()
    assert function["Properties"]["Handler"] == "handler.handler"


def test_a_requirement_pip_cannot_install_fails_the_synth_and_never_uses_docker(
    code: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (code / "requirements.txt").write_text("not-a-wheel-anywhere==9.9\n")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    with pytest.raises(Exception, match="only binary wheels can be used") as raised:
        synth_agent(code, tmp_path / "cdk.out")
    assert "docker" not in str(raised.value).lower()
