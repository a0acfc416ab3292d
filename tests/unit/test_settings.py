from __future__ import annotations

import pytest
from pydantic import ValidationError

from shotwire_core.config import DEFAULT_WEBHOOK_RETRY_SCHEDULE, load_stack_config
from shotwire_core.settings import Settings


def test_retry_schedule_from_env_counts_attempts() -> None:
    settings = Settings.from_env({"SHOTWIRE_WEBHOOK_RETRY_SCHEDULE": "1, 2"})
    assert settings.webhook_retry_schedule == (1, 2)
    assert settings.max_webhook_attempts == 3


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
