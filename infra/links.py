"""The secret that signs download links (shotwire_core.links): links point at the API, which checks them and
redirects to a presigned URL made on the spot, so a link lives as long as it says, not as long as the
credentials of the function that made it."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.nag import acknowledge
from shotwire_core.config import StackConfig

# 64 letters and digits: a 380-bit HMAC key.
SECRET_LENGTH = 64


class DownloadLinkSecret(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig) -> None:
        super().__init__(scope, construct_id)
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            secret_name=config.download_link_secret,
            description="Signs shotwire's image download links (replacing it invalidates the links handed out)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=SECRET_LENGTH, exclude_punctuation=True
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(
            self.secret,
            "AwsSolutions-SMG4",
            "Rotating the link secret would void every download link handed out before their stated expiry; "
            "a client that needs a new link asks GET /v1/screenshots/{id}. Replace it by hand if it leaks.",
        )

    def grant_signing(self, grantee: iam.IGrantable) -> None:
        """Read the secret, to sign links (the dispatcher) or to sign and check them (the API)."""
        self.secret.grant_read(grantee)
