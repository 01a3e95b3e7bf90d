"""CDK constructs of Soorma Serverless: the platform, one construct per agent, the stage's stack.

`infra` reads agent manifests with `soorma_common.manifest_reader` (`python -m soorma.manifests
--scan functions/` in a child process) and imports only `soorma_common` (the contract): never
agent code, the runtime (`soorma`) or the dev tools (`soorma_dev`).
"""

from infra.agent_function import AgentFunction, AgentFunctionProps
from infra.app import build_app
from infra.platform import SoormaPlatform, SoormaPlatformProps
from infra.powertools import PowertoolsLayerProps
from infra.stack import AgentStack, SoormaStack, SoormaStackProps
from soorma_common.manifest_reader import FunctionManifest, read_function_manifests

__all__ = [
    "AgentFunction",
    "AgentFunctionProps",
    "AgentStack",
    "FunctionManifest",
    "PowertoolsLayerProps",
    "SoormaPlatform",
    "SoormaPlatformProps",
    "SoormaStack",
    "SoormaStackProps",
    "build_app",
    "read_function_manifests",
]
