"""StackConfig refuses a capture timeout that a batch of slow pages could outrun."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shotwire_core.config import StackConfig
from shotwire_core.models import ScreenshotRequest


def test_default_timeout_covers_three_waves_of_the_slowest_jobs() -> None:
    config = StackConfig()
    # 10 records, 4 at once: 3 waves of (120 s + 20 s hang grace), plus 30 s launch and uploads, plus the 15 s
    # kept back to record and announce outcomes and 7 s for a job to close its context.
    assert config.capture_batch_worst_case_seconds == 3 * 140 + 30 + 15 + 7
    assert config.capture_timeout_seconds >= config.capture_batch_worst_case_seconds
    assert config.capture_visibility_timeout_seconds == 6 * config.capture_timeout_seconds


@pytest.mark.parametrize(
    "overrides",
    [
        {"capture_timeout_seconds": 90},
        {"capture_timeout_seconds": 901},  # over Lambda's 15 minutes
        {"capture_concurrency": 2},  # 5 waves now: 480 s is too short
    ],
)
def test_a_timeout_a_batch_could_outrun_is_refused(overrides: dict[str, int]) -> None:
    with pytest.raises(ValidationError, match="capture_timeout_seconds"):
        StackConfig(**overrides)


def test_a_fitting_combination_is_accepted() -> None:
    config = StackConfig(capture_batch_size=4, capture_concurrency=4, capture_timeout_seconds=192)
    assert config.capture_batch_worst_case_seconds == 192


def test_no_request_may_ask_for_more_than_the_worst_case_assumes() -> None:
    with pytest.raises(ValidationError, match="timeoutMs"):
        ScreenshotRequest.model_validate({"url": "https://example.com", "timeoutMs": 120_001})


def test_a_setting_every_function_would_refuse_is_refused_by_the_config() -> None:
    """Caught at synth (and when make dev starts), not as a cold-start crash of every invocation: the config and
    the functions' settings share their bounds (shotwire_core.config)."""
    with pytest.raises(ValidationError, match="download_url_ttl_seconds"):
        StackConfig(download_url_ttl_seconds=60)  # links must live at least an hour


def test_capture_concurrency_zero_is_a_validation_error_not_a_crash() -> None:
    with pytest.raises(ValidationError, match="capture_concurrency"):
        StackConfig(capture_concurrency=0)
