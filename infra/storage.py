"""Where state lives: the images bucket, the jobs table and the API keys table."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from shotwire_core.config import StackConfig


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig) -> None:
        super().__init__(scope, construct_id)

        self.bucket = s3.Bucket(
            self,
            "Images",
            # S3 names are global; account and region (deploy-time tokens) keep this one unique.
            bucket_name=config.images_bucket(Aws.ACCOUNT_ID, Aws.REGION),
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-images",
                    expiration=Duration.days(config.image_retention_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            auto_delete_objects=False,
            removal_policy=RemovalPolicy.RETAIN,
        )

        self.jobs_table = dynamodb.Table(
            self,
            "Jobs",
            table_name=config.jobs_table,
            partition_key=dynamodb.Attribute(name="tenantId", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="jobId", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # Finished jobs age out on their own; the handlers set expiresAt (epoch seconds).
            time_to_live_attribute="expiresAt",
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.RETAIN,
        )

        self.idempotency_table = dynamodb.Table(
            self,
            "Idempotency",
            table_name=config.idempotency_table,
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # Powertools writes the record's expiry here (24 h after the request); DynamoDB then removes it.
            time_to_live_attribute="expiration",
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            # Records are worth a day at most: nothing to keep when the stack goes.
            removal_policy=RemovalPolicy.DESTROY,
        )

        self.keys_table = dynamodb.Table(
            self,
            "Keys",
            table_name=config.keys_table,
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.RETAIN,
        )
