"""The AWS-managed Powertools for AWS Lambda (Python) layer, pinned to the version we test with.

AWS publishes the layer in every commercial region under account 017000801446 as
`AWSLambdaPowertoolsPythonV3-<python>-<arch>:<layer version>`, and publishes, per release, a
public SSM parameter `/aws/service/powertools/python/<arch>/<python>/<semantic version>` whose
value is that region's layer ARN. Layer version numbers are per release and not derivable from
the semantic version, so the default resolves the parameter of the exact release at deploy
time (in the stack's region); `layer_version` pins a known layer number instead, and `arn`
replaces the layer altogether.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Fn
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

#: The Powertools release the runtime is written and tested against (requirements-dev.txt).
POWERTOOLS_VERSION = "3.37.0"
#: The account AWS publishes the Powertools layers from (commercial regions).
POWERTOOLS_ACCOUNT = "017000801446"
#: The Lambda runtime and architecture of every Soorma function: Python 3.13 runs on Amazon Linux
#: 2023 (3.11 runs on Amazon Linux 2, end of life 2026-06-30); Powertools 3.x publishes
#: `AWSLambdaPowertoolsPythonV3-python313-<arch>` layers and their SSM parameters.
RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64


@dataclass(frozen=True)
class PowertoolsLayerProps:
    """Which Powertools layer the functions get.

    - `version`: the Powertools release (default 3.37.0, the one the runtime is tested with).
    - `layer_version`: pin the layer by its number instead of the release's SSM parameter
      (`aws lambda list-layer-versions --layer-name
      AWSLambdaPowertoolsPythonV3-python313-arm64` lists them with their release).
    - `arn`: use this layer ARN as is (another partition, a private copy).
    """

    version: str = POWERTOOLS_VERSION
    layer_version: int | None = None
    arn: str | None = None

    @property
    def python(self) -> str:
        """The runtime name as Powertools spells it in layer names (`python313`)."""
        return RUNTIME.name.replace(".", "")

    @property
    def architecture(self) -> str:
        """The architecture as Powertools spells it (`arm64`)."""
        return ARCHITECTURE.name

    def layer_arn(self) -> str:
        """The layer ARN (a token resolved in the stack's region)."""
        if self.arn:
            return self.arn
        if self.layer_version is not None:
            return Fn.sub(
                "arn:${AWS::Partition}:lambda:${AWS::Region}:"
                f"{POWERTOOLS_ACCOUNT}:layer:AWSLambdaPowertoolsPythonV3-"
                f"{self.python}-{self.architecture}:{self.layer_version}"
            )
        return f"{{{{resolve:ssm:{self.ssm_parameter()}}}}}"

    def ssm_parameter(self) -> str:
        """The public SSM parameter holding this release's layer ARN in each region."""
        return f"/aws/service/powertools/python/{self.architecture}/{RUNTIME.name}/{self.version}"


def powertools_layer(
    scope: Construct, construct_id: str, props: PowertoolsLayerProps
) -> lambda_.ILayerVersion:
    """The Powertools layer as an `ILayerVersion`."""
    return lambda_.LayerVersion.from_layer_version_arn(scope, construct_id, props.layer_arn())
