"""Monitoring: alarms to an SNS topic, one dashboard, and an archive of the outcome bus for replays.

Metric names are the ones the handlers emit through Powertools (EMF, namespace `Shotwire`, dimension
`service=shotwire`); docs/operations.md lists them.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from shotwire_core.config import StackConfig
from shotwire_core.observability import NAMESPACE

FIVE_MINUTES = Duration.minutes(5)


def service_metric(name: str, statistic: str = "Sum", label: str | None = None) -> cloudwatch.Metric:
    """A metric the handlers emit (Powertools Metrics(service="shotwire"))."""
    return cloudwatch.Metric(
        namespace=NAMESPACE,
        metric_name=name,
        dimensions_map={"service": "shotwire"},
        statistic=statistic,
        period=FIVE_MINUTES,
        label=label or name,
    )


class Monitoring(Construct):
    """Owns the alarm topic, the alarms, the dashboard and the bus archive."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        rest_api: apigw.RestApi,
        functions: dict[str, lambda_.IFunction],
        capture_queue: sqs.IQueue,
        dead_letter_queues: dict[str, sqs.IQueue],
        webhook_retry_queue: sqs.IQueue,
        event_bus: events.IEventBus,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self,
            "Alarms",
            topic_name=config.alarm_topic,
            enforce_ssl=True,
        )
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        # CloudWatch publishes alarm notifications to the topic.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["sns:Publish"],
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                resources=[self.topic.topic_arn],
            )
        )
        self.alarms: list[cloudwatch.Alarm] = []

        for label, queue in dead_letter_queues.items():
            self._alarm(
                f"{label}DlqNotEmpty",
                queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(1), statistic="Maximum"),
                threshold=1,
                description=f"A message is parked in the {label} DLQ: see docs/operations.md for the redrive",
            )
        self._alarm(
            "WebhooksExhausted",
            service_metric("WebhooksExhausted"),
            threshold=1,
            description="A webhook delivery ran through its whole retry schedule and was parked in the DLQ",
        )
        failure_rate = cloudwatch.MathExpression(
            expression="IF(done + failed > 0, 100 * failed / (done + failed), 0)",
            using_metrics={"done": service_metric("CapturesCompleted"), "failed": service_metric("CapturesFailed")},
            label="capture failure %",
            period=FIVE_MINUTES,
        )
        self._alarm(
            "CaptureFailureRate",
            failure_rate,
            threshold=config.alarm_capture_failure_percent,
            evaluation_periods=2,
            description=f"Over {config.alarm_capture_failure_percent}% of captures failed for 10 minutes",
        )
        self._alarm(
            "CaptureBacklog",
            capture_queue.metric_approximate_age_of_oldest_message(period=Duration.minutes(1), statistic="Maximum"),
            threshold=config.alarm_backlog_seconds,
            evaluation_periods=3,
            description=f"The oldest capture has waited over {config.alarm_backlog_seconds} s for 3 minutes",
        )
        api_5xx = cloudwatch.MathExpression(
            expression="IF(requests > 0, 100 * errors / requests, 0)",
            using_metrics={
                "errors": rest_api.metric_server_error(period=FIVE_MINUTES, statistic="Sum"),
                "requests": rest_api.metric_count(period=FIVE_MINUTES, statistic="Sum"),
            },
            label="API 5xx %",
            period=FIVE_MINUTES,
        )
        self._alarm(
            "Api5xxRate",
            api_5xx,
            threshold=config.alarm_api_5xx_percent,
            description=f"Over {config.alarm_api_5xx_percent}% of API requests answered 5xx in 5 minutes",
        )
        for name, function in functions.items():
            self._alarm(
                f"{name}Errors",
                function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                threshold=config.alarm_function_errors,
                description=f"The {name} function failed {config.alarm_function_errors}+ times in 5 minutes",
            )
            self._alarm(
                f"{name}Throttles",
                function.metric_throttles(period=FIVE_MINUTES, statistic="Sum"),
                threshold=1,
                description=f"The {name} function was throttled (concurrency exhausted)",
            )

        # Past outcome events can be replayed onto the bus (e.g. after a dispatcher bug is fixed).
        self.archive = events.Archive(
            self,
            "OutcomeArchive",
            source_event_bus=event_bus,
            archive_name=config.event_archive,
            event_pattern=events.EventPattern(source=config.outcome_event_pattern["source"]),
            retention=Duration.days(config.event_archive_days),
        )

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=config.dashboard)
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Submissions and captures",
                left=[
                    service_metric("ScreenshotsSubmitted", label="submitted"),
                    service_metric("CapturesCompleted", label="completed"),
                    service_metric("CapturesFailed", label="failed"),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Capture duration (ms)",
                left=[
                    service_metric("CaptureDuration", statistic="p50", label="p50"),
                    service_metric("CaptureDuration", statistic="p95", label="p95"),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Webhook deliveries",
                left=[
                    service_metric("WebhooksDelivered", label="delivered"),
                    service_metric("WebhookRetriesScheduled", label="retried"),
                    service_metric("WebhooksHeld", label="held (circuit or in-flight bound)"),
                    service_metric("WebhooksExhausted", label="exhausted (DLQ)"),
                    service_metric("WebhooksRefused", label="refused (410 / SSRF)"),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Queue depths",
                left=[
                    capture_queue.metric_approximate_number_of_messages_visible(label="capture queue"),
                    webhook_retry_queue.metric_approximate_number_of_messages_visible(label="webhook retries"),
                    *[
                        queue.metric_approximate_number_of_messages_visible(label=f"{label} DLQ")
                        for label, queue in dead_letter_queues.items()
                    ],
                ],
                width=12,
            ),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=24),
        )

    def _alarm(
        self,
        name: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        description: str,
        evaluation_periods: int = 1,
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            name,
            metric=metric,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        self.alarms.append(alarm)
