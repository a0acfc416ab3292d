"""Monitoring in the template: alarms on what loses or delays work, wired to one SNS topic; a dashboard;
an archive of outcome events. The metric names must be ones the handlers actually emit."""

from __future__ import annotations

import json
import re
from pathlib import Path

from aws_cdk.assertions import Template

from shotwire_core.config import StackConfig
from shotwire_core.observability import NAMESPACE

ROOT = Path(__file__).resolve().parents[2]


def emitted_metric_names() -> set[str]:
    """Every metric name a handler passes to Powertools' add_metric."""
    names: set[str] = set()
    for source in (ROOT / "layers" / "shared" / "python" / "shotwire_core").rglob("*.py"):
        names |= set(re.findall(r'add_metric\(\s*name="(\w+)"', source.read_text()))
    return names


def alarms(template: Template) -> dict[str, dict[str, object]]:
    return {key: value["Properties"] for key, value in template.find_resources("AWS::CloudWatch::Alarm").items()}


def test_every_alarm_notifies_the_topic(template: Template, config: StackConfig) -> None:
    template.has_resource_properties("AWS::SNS::Topic", {"TopicName": config.alarm_topic})
    topic = next(iter(template.find_resources("AWS::SNS::Topic")))
    found = alarms(template)
    assert len(found) >= 11  # 2 DLQs, exhausted webhooks, failure rate, backlog, API 5xx, 3 x (errors, throttles)
    for properties in found.values():
        assert properties["AlarmActions"] == [{"Ref": topic}]
        assert properties["TreatMissingData"] == "notBreaching"


def test_the_alarms_watch_what_loses_or_delays_work(template: Template, config: StackConfig) -> None:
    exhausted = [
        properties
        for properties in alarms(template).values()
        for metric in properties.get("Metrics", [])  # type: ignore[union-attr]
        if metric.get("MetricStat", {}).get("Metric", {}).get("MetricName") == "WebhooksExhausted"
    ]
    (alarm,) = exhausted
    (metric,) = alarm["Metrics"]  # type: ignore[misc]
    assert metric["MetricStat"]["Metric"]["Namespace"] == NAMESPACE and alarm["Threshold"] == 1
    assert metric["MetricStat"]["Metric"]["Dimensions"] == [{"Name": "service", "Value": "shotwire"}]
    queues = template.find_resources("AWS::SQS::Queue")
    dlqs = {
        key
        for key, queue in queues.items()
        if queue["Properties"]["QueueName"] in (config.capture_dlq, config.webhook_dlq)
    }
    watched = {
        properties["Dimensions"][0]["Value"]["Fn::GetAtt"][0]  # type: ignore[index]
        for properties in alarms(template).values()
        if properties.get("MetricName") == "ApproximateNumberOfMessagesVisible" and properties["Threshold"] == 1
    }
    assert watched == dlqs and len(dlqs) == 2
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "ApproximateAgeOfOldestMessage", "Threshold": config.alarm_backlog_seconds},
    )
    expressions = [
        metric.get("Expression")
        for properties in alarms(template).values()
        for metric in properties.get("Metrics", [])  # type: ignore[union-attr]
        if isinstance(metric, dict)
    ]
    assert any(e and "failed / (done + failed)" in e for e in expressions)
    assert any(e and "errors / requests" in e for e in expressions)
    for metric in ("Errors", "Throttles"):
        assert sum(1 for p in alarms(template).values() if p.get("MetricName") == metric) == 3


def test_alarms_and_dashboard_use_only_metrics_the_handlers_emit(template: Template) -> None:
    emitted = emitted_metric_names()
    assert {"WebhooksExhausted", "CapturesCompleted", "CapturesFailed", "ScreenshotsSubmitted"} <= emitted
    used: set[str] = set()
    for properties in alarms(template).values():
        if properties.get("Namespace") == NAMESPACE:
            used.add(str(properties["MetricName"]))
        for metric in properties.get("Metrics", []):  # type: ignore[union-attr]
            stat = metric.get("MetricStat") if isinstance(metric, dict) else None
            if stat and stat["Metric"].get("Namespace") == NAMESPACE:
                used.add(stat["Metric"]["MetricName"])
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    on_dashboard = set(re.findall(NAMESPACE + r'\\+",\\+"(\w+)', body))
    assert {"ScreenshotsSubmitted", "WebhooksDelivered", "CaptureDuration"} <= on_dashboard, on_dashboard
    used |= on_dashboard
    assert used and used <= emitted, used - emitted


def test_outcome_events_are_archived_for_replay(template: Template, config: StackConfig) -> None:
    template.has_resource_properties(
        "AWS::Events::Archive",
        {"ArchiveName": config.event_archive, "RetentionDays": config.event_archive_days},
    )


def test_the_dashboard_and_topic_are_stack_outputs(template: Template, config: StackConfig) -> None:
    template.has_resource_properties("AWS::CloudWatch::Dashboard", {"DashboardName": config.dashboard})
    outputs = template.find_outputs("*")
    assert {"AlarmTopicArn", "DashboardUrl"} <= set(outputs)
