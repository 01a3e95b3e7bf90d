"""A function folder as a Lambda asset: as is, or with its `requirements.txt` installed.

ARCHITECTURE.md "Packaging": the `soorma_common` layer and the Powertools layer bring our code and
Powertools (with pydantic, fastjsonschema, aws-xray-sdk); boto3 comes with the runtime. Anything
else an agent needs goes in `functions/<name>/requirements.txt` and is installed into the asset
for Lambda's platform (arm64, CPython 3.13, binary wheels only) by pip on this machine, as CDK
local bundling: never Docker. A folder without `requirements.txt` is uploaded as it is.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from infra.powertools import RUNTIME

#: Files never shipped in a function or layer asset.
ASSET_EXCLUDES = ["**/__pycache__", "**/__pycache__/**", "**/*.pyc", "**/.mypy_cache/**"]
#: The file that asks for bundling.
REQUIREMENTS_FILE = "requirements.txt"
#: pip's name for Lambda's arm64 platform (manylinux2014 = glibc 2.17, what AL2023 exceeds).
LAMBDA_PLATFORM = "manylinux2014_aarch64"
#: CDK requires an image in `BundlingOptions`; it is never pulled, because local bundling
#: either succeeds or fails the synth (`try_bundle` never answers False).
_NO_DOCKER = DockerImage.from_registry("soorma/local-bundling-only")


class BundlingError(RuntimeError):
    """pip could not install a function's requirements for the Lambda platform."""


def python_version() -> str:
    """The Lambda runtime's Python version as pip spells it (`3.13`)."""
    return RUNTIME.name.removeprefix("python")


def pip_install_command(
    requirements: Path, target: Path, *, python: str | None = None
) -> list[str]:
    """The pip command that installs `requirements` into `target` for Lambda (arm64, CPython of
    the runtime's version, binary wheels only, so nothing is compiled for this machine)."""
    return [
        python or sys.executable,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
        "--platform",
        LAMBDA_PLATFORM,
        "--implementation",
        "cp",
        "--python-version",
        python_version(),
        "--only-binary=:all:",
        "--upgrade",
        "--target",
        str(target),
        "--requirement",
        str(requirements),
    ]


def needs_bundling(code_path: Path) -> bool:
    """Whether a function folder declares dependencies (a `requirements.txt`)."""
    return (Path(code_path) / REQUIREMENTS_FILE).is_file()


@jsii.implements(ILocalBundling)
class PipLocalBundling:
    """CDK local bundling: the folder's files plus its requirements, installed by pip."""

    def __init__(self, code_path: Path, *, python: str | None = None) -> None:
        self.code_path = Path(code_path)
        self.python = python

    def command(self, output_dir: str | Path) -> list[str]:
        """The pip command this bundling runs for `output_dir`."""
        return pip_install_command(
            self.code_path / REQUIREMENTS_FILE, Path(output_dir), python=self.python
        )

    def try_bundle(self, output_dir: str, *options: Any, **fields: Any) -> bool:
        """Install the requirements, then copy the folder's files over them (they win)."""
        del options, fields  # the `BundlingOptions` (jsii passes them either way): unused
        done = subprocess.run(self.command(output_dir), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BundlingError(
                f"installing {self.code_path / REQUIREMENTS_FILE} for {LAMBDA_PLATFORM} "
                f"(Python {python_version()}) failed; only binary wheels can be used:\n"
                f"{done.stderr.strip()}"
            )
        shutil.copytree(
            self.code_path,
            output_dir,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache"),
        )
        return True


def function_code(code_path: Path, *, python: str | None = None) -> lambda_.Code:
    """The Lambda code of a function folder: bundled when it has a `requirements.txt`."""
    path = str(code_path)
    if not needs_bundling(Path(code_path)):
        return lambda_.Code.from_asset(path, exclude=ASSET_EXCLUDES)
    return lambda_.Code.from_asset(
        path,
        exclude=ASSET_EXCLUDES,
        bundling=BundlingOptions(
            image=_NO_DOCKER, local=PipLocalBundling(Path(code_path), python=python)
        ),
    )
