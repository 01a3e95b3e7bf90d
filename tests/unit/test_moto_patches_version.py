"""The moto patches run only on a moto version they were checked against; the `dev` extra pins
that version (and waitress), so `pip install 'soorma-serverless[dev]'` gets a local cloud that
starts."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from soorma_dev.localcloud.moto_patches import (
    PATCHES,
    SUPPORTED_MOTO_VERSIONS,
    UnsupportedMotoVersionError,
    check_moto_version,
    installed_moto_version,
)

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def dev_extra() -> dict[str, Requirement]:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    requirements = map(Requirement, project["optional-dependencies"]["dev"])
    return {requirement.name: requirement for requirement in requirements}


def test_another_moto_version_is_refused_in_one_line_saying_what_to_do() -> None:
    with pytest.raises(UnsupportedMotoVersionError) as refused:
        check_moto_version("5.3.0")
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("moto 5.3.0 is installed, but")
    assert f"checked against moto {', '.join(SUPPORTED_MOTO_VERSIONS)} only" in message
    assert "pip install 'soorma-serverless[dev]'" in message
    assert "LocalCloud(moto_patches=False)" in message and "--no-patches" in message


def test_every_supported_version_passes() -> None:
    for supported in SUPPORTED_MOTO_VERSIONS:
        check_moto_version(supported)


def test_the_dev_extra_pins_the_supported_moto_and_the_installed_waitress() -> None:
    extra = dev_extra()
    assert set(extra) == {"moto", "waitress"}
    assert str(extra["moto"].specifier) == f"=={SUPPORTED_MOTO_VERSIONS[-1]}"
    assert {"server", "events", "sqs", "dynamodb"} <= extra["moto"].extras
    assert str(extra["waitress"].specifier) == f"=={version('waitress')}"


def test_this_environment_runs_a_supported_moto() -> None:
    assert installed_moto_version() in SUPPORTED_MOTO_VERSIONS


def test_sixteen_patches_with_distinct_names() -> None:
    names = [patch.__name__ for patch in PATCHES]
    assert len(names) == 16 == len(set(names))
