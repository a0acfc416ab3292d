"""ShotwireStack: composes the constructs and publishes what clients and operators need to find."""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import CfnOutput, IStableStringProducer, Lazy, Stack
from constructs import Construct

from infra.api import Api
from infra.capture import CaptureWorker
from infra.defaults import RUNTIME_NOT_LATEST
from infra.egress import StaticEgress
from infra.layers import Layers
from infra.links import DownloadLinkSecret
from infra.monitoring import Monitoring
from infra.nag import acknowledge
from infra.storage import Storage
from infra.webhooks import WebhookDelivery
from shotwire_core.config import StackConfig


class ShotwireStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, description="shotwire: asynchronous screenshot API", **kwargs)
        self.config = config

        self.storage = Storage(self, "Storage", config=config)
        acknowledge(
            self.storage.bucket,
            "AwsSolutions-S1",
            "Images are written only by the capture function and read only by the API (a synchronous image "
            "answer, deletes) and through presigned links; CloudTrail S3 data events give an audit trail "
            "account-wide, and server access logs would add a log write per download.",
        )
        self.layers = Layers(self, "Layers")
        # Static egress IPs (off by default: NAT gateways cost money, see docs/operations.md).
        self.egress = StaticEgress(self, "Egress", config=config) if config.egress_static_ips else None
        self.links = DownloadLinkSecret(self, "DownloadLinks", config=config)
        self.webhooks = WebhookDelivery(
            self,
            "Webhooks",
            config=config,
            storage=self.storage,
            layers=self.layers,
            links=self.links,
            # The API is made below (it needs the retry queue made here); its URL is filled in at synth.
            api_url=Lazy.string(_ApiUrl(self)),
            egress=self.egress,
        )
        self.capture = CaptureWorker(
            self,
            "Capture",
            config=config,
            storage=self.storage,
            event_bus=self.webhooks.event_bus,
            egress=self.egress if config.egress_capture_in_vpc else None,
        )
        self.api = Api(
            self,
            "Api",
            config=config,
            storage=self.storage,
            layers=self.layers,
            capture_queue=self.capture.queue,
            webhook_retry_queue=self.webhooks.retry_queue,
            links=self.links,
            egress_ips=self.egress.joined_ips if self.egress else "",
        )
        # Both zip functions run RUNTIME, the Python their layers' bytecode is compiled for (infra/defaults.py).
        # The function resource only: its event source and invoke config have no runtime to excuse.
        for function in (self.api.function, self.webhooks.function):
            acknowledge(function.node.find_child("Resource"), "AwsSolutions-L1", RUNTIME_NOT_LATEST)

        self.monitoring = Monitoring(
            self,
            "Monitoring",
            config=config,
            rest_api=self.api.rest_api,
            functions={
                "Api": self.api.function,
                "Capture": self.capture.function,
                "Dispatcher": self.webhooks.function,
            },
            capture_queue=self.capture.queue,
            dead_letter_queues={"Capture": self.capture.dlq, "Webhook": self.webhooks.dlq},
            webhook_retry_queue=self.webhooks.retry_queue,
            event_bus=self.webhooks.event_bus,
        )

        outputs = {
            "ApiUrl": self.api.rest_api.url,
            "ImagesBucketName": self.storage.bucket.bucket_name,
            "JobsTableName": self.storage.jobs_table.table_name,
            "KeysTableName": self.storage.keys_table.table_name,
            "CaptureQueueUrl": self.capture.queue.queue_url,
            "CaptureDlqUrl": self.capture.dlq.queue_url,
            "WebhookRetryQueueUrl": self.webhooks.retry_queue.queue_url,
            "WebhookDlqUrl": self.webhooks.dlq.queue_url,
            "EventBusName": self.webhooks.event_bus.event_bus_name,
            "AlarmTopicArn": self.monitoring.topic.topic_arn,
            "DashboardUrl": f"https://console.aws.amazon.com/cloudwatch/home?region={self.region}"
            f"#dashboards:name={config.dashboard}",
        }
        if self.egress:
            # Webhooks (and, with egress_capture_in_vpc, page loads) come from these: receivers allow-list them.
            outputs["EgressIps"] = self.egress.joined_ips
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)


@jsii.implements(IStableStringProducer)
class _ApiUrl:
    """The stage URL of the stack's API, read when the template is made (the dispatcher's SHOTWIRE_API_URL)."""

    def __init__(self, stack: ShotwireStack) -> None:
        self.stack = stack

    def produce(self) -> str:
        return str(self.stack.api.rest_api.url)
