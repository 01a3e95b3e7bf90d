"""Reading the agents under `functions/` through `soorma manifest --scan` in a child process."""

from __future__ import annotations

from pathlib import Path

import pytest

from soorma_common.manifest_reader import ManifestReadError, read_function_manifests
from tests.infra.agent_folders import NOT_AN_AGENT, SMALL_AGENT, write_function

TWO_AGENTS = SMALL_AGENT.format(name="first") + "\nsecond = type(worker)(name='second')\n"


def test_a_missing_functions_folder_has_no_agents(tmp_path: Path) -> None:
    assert read_function_manifests(tmp_path / "absent") == []


def test_platform_functions_are_skipped_and_agents_keep_their_folder(tmp_path: Path) -> None:
    write_function(tmp_path, "registry_sync", NOT_AN_AGENT)
    folder = write_function(tmp_path, "worker_a", SMALL_AGENT.format(name="worker-a"))
    (found,) = read_function_manifests(tmp_path)
    assert found.manifest.name == "worker-a"
    assert found.path == folder.resolve()
    assert not found.is_platform


def test_a_handler_defining_two_agents_is_an_error_naming_them(tmp_path: Path) -> None:
    write_function(tmp_path, "both", TWO_AGENTS)
    with pytest.raises(ManifestReadError, match="first, second"):
        read_function_manifests(tmp_path)


def test_two_folders_defining_the_same_agent_is_an_error(tmp_path: Path) -> None:
    write_function(tmp_path, "a", SMALL_AGENT.format(name="same"))
    write_function(tmp_path, "b", SMALL_AGENT.format(name="same"))
    with pytest.raises(ManifestReadError, match="same"):
        read_function_manifests(tmp_path)
