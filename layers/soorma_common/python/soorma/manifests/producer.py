"""The manifest producer: `python -m soorma.manifests [PATH...] [--scan FOLDER]`.

Imports each function folder's handler module in this process and prints the agents' manifests
as one JSON list (each record also carries the folder as `path`). It runs in a child process of
the reader (`soorma_common.manifest_reader`), so that CDK and the dev tools never import agent code.
Every declared event schema is checked as the registry will check it (`check_definition`), so
`soorma manifest`, `cdk synth` and `soorma dev` refuse a malformed schema before anything is
deployed. Exit 2 with `error: ...` on stderr when a folder defines no agent or more than one, or
an agent declares an invalid schema.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from soorma.manifests.discovery import AgentNotFoundError, load_agent, scan_agent_folders
from soorma.registry.schemas import InvalidSchemaError, check_definition

#: The field each printed record carries besides the manifest: the function folder.
PATH_FIELD = "path"


def manifests_json(paths: Sequence[str | Path]) -> str:
    """The manifests of the agents in `paths` as a JSON list, each with its `path`."""
    records = []
    for path in paths:
        manifest = load_agent(path).manifest()
        for definition in [*manifest.events_consumed, *manifest.events_produced]:
            check_definition(definition)
        record = manifest.model_dump(mode="json")
        record[PATH_FIELD] = str(Path(path))
        records.append(record)
    return json.dumps(records, indent=2, sort_keys=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the manifests of the given folders and of the agent folders under `--scan`."""
    parser = argparse.ArgumentParser(
        prog="python -m soorma.manifests",
        description="Print the agents' manifests as a JSON list.",
    )
    parser.add_argument("paths", nargs="*", type=Path, help="function folders or handler files")
    parser.add_argument(
        "--scan",
        type=Path,
        help="also every folder under this one whose handler defines an agent",
    )
    args = parser.parse_args(argv)
    if not args.paths and args.scan is None:
        print("error: give function folders, or --scan FOLDER", file=sys.stderr)
        return 2
    try:
        folders: list[str | Path] = list(args.paths)
        if args.scan is not None:
            folders += scan_agent_folders(args.scan)
        print(manifests_json(folders))
    except (AgentNotFoundError, InvalidSchemaError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
