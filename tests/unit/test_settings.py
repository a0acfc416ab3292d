from __future__ import annotations

import pytest
from pydantic import ValidationError

from shotwire_core.config import DEFAULT_WEBHOOK_RETRY_SCHEDULE, StackConfig, load_stack_config
from shotwire_core.settings import (
    SETTINGS_MODELS,
    ApiSettings,
    CaptureSettings,
    DispatcherSettings,
    FromStack,
    FunctionSettings,
    Given,
    Settings,
    WebhookSettings,
    env_name,
    environment_of,
    get_settings,
    narrow,
    settings_model,
    source_of,
)


def test_retry_schedule_from_env() -> None:
    assert Settings.from_env({"SHOTWIRE_WEBHOOK_RETRY_SCHEDULE": "1, 2"}).webhook_retry_schedule == (1, 2)


def test_defaults_follow_the_stack_config() -> None:
    settings = Settings.from_env({})
    config = load_stack_config()
    assert settings.webhook_retry_schedule == DEFAULT_WEBHOOK_RETRY_SCHEDULE
    assert settings.jobs_table == config.jobs_table
    assert settings.allow_private_networks is False  # deployed default: blocked


@pytest.mark.parametrize("raw", ["1,x", "-1", "5,-3"])
def test_bad_schedules_are_refused(raw: str) -> None:
    with pytest.raises(ValidationError):
        Settings.from_env({"SHOTWIRE_WEBHOOK_RETRY_SCHEDULE": raw})


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("true", True), ("0", False), ("false", False)])
def test_allow_private_flag(raw: str, expected: bool) -> None:
    assert Settings.from_env({"SHOTWIRE_ALLOW_PRIVATE_NETWORKS": raw}).allow_private_networks is expected


def test_prefix_override_renames_everything() -> None:
    config = load_stack_config({"prefix": "acme-shots"})
    assert config.jobs_table == "acme-shots-jobs"
    assert config.images_bucket("1", "eu-west-1") == "acme-shots-images-1-eu-west-1"


def test_egress_ips_are_a_comma_separated_list_of_addresses() -> None:
    assert Settings.from_env({}).egress_ips == ()
    assert Settings.from_env({"SHOTWIRE_EGRESS_IPS": ""}).egress_ips == ()
    assert Settings.from_env({"SHOTWIRE_EGRESS_IPS": "203.0.113.10, 2001:db8::1"}).egress_ips == (
        "203.0.113.10",
        "2001:db8::1",
    )
    with pytest.raises(ValidationError, match="IP addresses"):
        Settings.from_env({"SHOTWIRE_EGRESS_IPS": "203.0.113.10,nat.example.com"})


def test_static_egress_is_off_by_default_and_capture_in_vpc_needs_it() -> None:
    config = load_stack_config()
    assert (config.egress_static_ips, config.egress_nat_gateways, config.egress_capture_in_vpc) == (False, 2, False)
    with pytest.raises(ValidationError, match="egress_capture_in_vpc needs egress_static_ips"):
        load_stack_config({"egress_capture_in_vpc": True})
    for count in (0, 4):
        with pytest.raises(ValidationError):
            load_stack_config({"egress_static_ips": True, "egress_nat_gateways": count})


# --- one model per function ----------------------------------------------------------------------------------


@pytest.mark.parametrize("model", [*SETTINGS_MODELS.values(), Settings])
def test_unset_settings_fall_back_to_the_stack_configs_defaults(model: type[FunctionSettings]) -> None:
    config = StackConfig()
    from_stack = {
        name: getattr(config, source.attribute)
        for name, field in model.model_fields.items()
        if isinstance(source := source_of(field, name), FromStack)
    }
    assert model.from_env({}) == model.model_validate(from_stack)


def test_each_variable_is_the_fields_name() -> None:
    for name, field in Settings.model_fields.items():
        assert field.alias == env_name(name) == f"SHOTWIRE_{name.upper()}"


def test_a_function_reads_only_its_own_variables() -> None:
    env = {"SHOTWIRE_CAPTURE_CONCURRENCY": "2", "SHOTWIRE_WEBHOOK_RETRY_SCHEDULE": "1", "SHOTWIRE_JOBS_TABLE": "j"}
    capture = CaptureSettings.from_env(env)
    assert (capture.capture_concurrency, capture.jobs_table) == (2, "j")
    assert not hasattr(capture, "webhook_retry_schedule")
    assert not hasattr(ApiSettings.from_env(env), "capture_concurrency")
    # What the API and the dispatcher share is declared once, in the part they share.
    assert "keys_table" in WebhookSettings.model_fields
    assert set(WebhookSettings.model_fields) <= set(ApiSettings.model_fields) & set(DispatcherSettings.model_fields)


def test_the_process_reads_the_model_of_the_function_it_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings_model({"POWERTOOLS_SERVICE_NAME": "shotwire-capture"}) is CaptureSettings
    assert settings_model({"POWERTOOLS_SERVICE_NAME": "shotwire-dispatcher"}) is DispatcherSettings
    assert settings_model({"POWERTOOLS_SERVICE_NAME": "shotwire-api"}) is ApiSettings
    # Several handlers in one process (tests, benches): every function's settings.
    assert settings_model({}) is Settings

    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "shotwire-dispatcher")
    monkeypatch.setenv("SHOTWIRE_WEBHOOK_RETRY_SCHEDULE", "7")
    get_settings.cache_clear()
    try:
        settings = get_settings()
        assert type(settings) is DispatcherSettings and get_settings() is settings  # read once
        assert narrow(settings, WebhookSettings) is settings
        with pytest.raises(RuntimeError, match=r"DispatcherSettings.*not CaptureSettings"):
            narrow(settings, CaptureSettings)
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize("function", SETTINGS_MODELS)
def test_a_functions_environment_is_its_models_fields_and_reads_back_as_the_config(function: str) -> None:
    config = load_stack_config({"allowed_hosts": ("Staging.example:443", "a.example:8080"), "capture_concurrency": 5})
    queues = {
        name: f"https://sqs/{name}" for name in ("SHOTWIRE_CAPTURE_QUEUE_URL", "SHOTWIRE_WEBHOOK_RETRY_QUEUE_URL")
    }
    env = environment_of(
        function,
        config,
        images_bucket="bucket",
        allow_private_networks=False,
        queue_urls={**queues, "SHOTWIRE_WEBHOOK_DLQ_URL": "https://sqs/dlq"},
        egress_ips="203.0.113.10",
        api_url="https://api.example/prod",
    )
    model = SETTINGS_MODELS[function]
    image = {env_name(n) for n, f in model.model_fields.items() if source_of(f, n) is Given.IMAGE}
    assert set(env) == {env_name(name) for name in model.model_fields} - image | {
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
    }
    assert env["POWERTOOLS_SERVICE_NAME"] == f"shotwire-{function}"
    settings = model.from_env(env)
    for name, field in model.model_fields.items():
        source = source_of(field, name)
        if isinstance(source, FromStack) and name != "allowed_hosts":
            assert getattr(settings, name) == getattr(config, source.attribute), name
    assert settings.allowed_hosts == {"staging.example:443", "a.example:8080"}
    assert env["SHOTWIRE_ALLOWED_HOSTS"] == "a.example:8080,staging.example:443"  # sorted: the template is stable


def test_a_needed_resource_that_is_not_given_is_refused() -> None:
    with pytest.raises(KeyError, match="SHOTWIRE_WEBHOOK_DLQ_URL"):
        environment_of(
            "dispatcher",
            StackConfig(),
            images_bucket="bucket",
            allow_private_networks=False,
            queue_urls={"SHOTWIRE_WEBHOOK_RETRY_QUEUE_URL": "https://sqs/retry"},
            egress_ips="",
            api_url="https://api.example",
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("capture_job_timeout_ms", 999),
        ("capture_concurrency", 17),
        ("download_url_ttl_seconds", 60),
        ("webhook_secret_overlap_seconds", 8 * 24 * 3600),
        ("webhook_circuit_hold_seconds", 3601),
        ("webhook_retry_schedule", (5, -1)),
        ("webhook_timeout_seconds", 0),
    ],
)
def test_the_config_refuses_what_the_functions_would_refuse(field: str, value: object) -> None:
    """One set of bounds: a value the function's settings would refuse at cold start fails the config first."""
    with pytest.raises(ValidationError):
        load_stack_config({field: value})
    name = next(n for n, f in Settings.model_fields.items() if source_of(f, n) == FromStack(field) or n == field)
    raw = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
    with pytest.raises(ValidationError):
        Settings.from_env({env_name(name): raw})
