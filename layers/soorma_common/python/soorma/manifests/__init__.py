"""Agent manifests: finding the agent of a function folder, printing manifests, reading them.

- `discovery`: the one agent a `functions/<name>/handler.py` defines (imports agent code).
- `producer`: `python -m soorma.manifests [PATH...] [--scan FOLDER]` prints the manifests as
  JSON.
- the reader (`soorma_common.manifest_reader`, re-exported here): runs the producer in a child
  process and parses its output; what the CDK app and the dev tools call, so that neither
  imports agent code (and the CDK app not even `soorma`).
"""

from soorma.manifests.discovery import (
    HANDLER_FILE,
    AgentNotFoundError,
    LambdaHandler,
    find_agent,
    function_folders,
    handler_path,
    import_handler_module,
    load_agent,
    load_handler,
    module_agent,
    scan_agent_folders,
)
from soorma.manifests.producer import manifests_json
from soorma_common.manifest_reader import (
    FunctionManifest,
    ManifestReadError,
    read_function_manifests,
    read_manifests,
)

__all__ = [
    "HANDLER_FILE",
    "AgentNotFoundError",
    "FunctionManifest",
    "LambdaHandler",
    "ManifestReadError",
    "find_agent",
    "function_folders",
    "handler_path",
    "import_handler_module",
    "load_agent",
    "load_handler",
    "manifests_json",
    "module_agent",
    "read_function_manifests",
    "read_manifests",
    "scan_agent_folders",
]
