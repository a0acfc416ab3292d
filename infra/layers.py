"""Lambda layers for the zip functions: our shared package and the AWS-published Powertools layer."""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.defaults import ARCHITECTURE, ASSET_EXCLUDE, REPO_ROOT, RUNTIME
from shotwire_core.config import POWERTOOLS_VERSION

# Public parameter AWS keeps per region; its value is that region's Powertools layer ARN.
POWERTOOLS_LAYER_PARAMETER = f"/aws/service/powertools/python/{ARCHITECTURE.name}/{RUNTIME.name}/{POWERTOOLS_VERSION}"


class Layers(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)

        # layers/shared holds python/shotwire_core; Lambda adds /opt/python to sys.path.
        self.shared = lambda_.LayerVersion(
            self,
            "Shared",
            code=lambda_.Code.from_asset(str(REPO_ROOT / "layers" / "shared"), exclude=ASSET_EXCLUDE),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="shotwire_core: models, settings and AWS adapters shared by the functions",
        )

        # A deploy-time SSM reference: synth needs no AWS access, and every region gets its own ARN.
        # The layer also brings pydantic v2 and aws-xray-sdk, which shotwire_core and Tracer need.
        powertools_arn = ssm.StringParameter.value_for_string_parameter(self, POWERTOOLS_LAYER_PARAMETER)
        self.powertools = lambda_.LayerVersion.from_layer_version_arn(self, "Powertools", powertools_arn)

    @property
    def all(self) -> list[lambda_.ILayerVersion]:
        return [self.powertools, self.shared]
