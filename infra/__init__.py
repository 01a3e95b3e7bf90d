"""CDK constructs of Soorma Serverless: the platform, one construct per agent, the stage's stack.

`infra` reads agent manifests as JSON from a child process (`soorma manifest --scan functions/`)
and imports only `soorma_common` (the contract), never agent code, the runtime or the dev tools.
"""

from infra.agent_function import AgentFunction, AgentFunctionProps
from infra.app import build_app
from infra.manifests import FunctionManifest, read_function_manifests
from infra.platform import SoormaPlatform, SoormaPlatformProps
from infra.powertools import PowertoolsLayerProps
from infra.stack import AgentStack, SoormaStack, SoormaStackProps

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
