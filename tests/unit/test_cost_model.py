"""The cost model's arithmetic holds together: totals are their components, volume scales linearly, free tiers
only ever take money off, and the request counts are the ones read from the code."""

from __future__ import annotations

import math

import pytest

from bench import cost_model as cm

FIXED_COLD = {"api": 0.01, "capture": 0.01, "dispatcher": 0.01}


@pytest.fixture(scope="module")
def sizes() -> cm.Sizes:
    return cm.measure_sizes()


def test_the_total_is_the_sum_of_its_components(sizes: cm.Sizes) -> None:
    for scenario in cm.capture_scenarios().values():
        items = cm.line_items(100_000, scenario, sizes)
        assert cm.total(items) == pytest.approx(sum(item.quantity * cm.PRICES[item.price].each for item in items))
        variable, fixed = cm.bill(items, 100_000)
        assert variable == pytest.approx(cm.total(items) * 100_000)
        assert fixed == pytest.approx(sum(item.cost for item in cm.fixed_items()))


def test_cost_per_thousand_scales_linearly_with_volume_at_a_fixed_cold_start_share(sizes: cm.Sizes) -> None:
    scenario = cm.capture_scenarios()["typical"]
    per_thousand = []
    for volume in cm.VOLUMES:
        items = cm.line_items(volume, scenario, sizes, cold_share=FIXED_COLD)
        variable, _ = cm.bill(items, volume)
        per_thousand.append(variable / volume * 1000)
    assert per_thousand == pytest.approx([per_thousand[0]] * len(cm.VOLUMES))


def test_free_tiers_only_take_money_off(sizes: cm.Sizes) -> None:
    scenario = cm.capture_scenarios()["typical"]
    for volume in cm.VOLUMES:
        items = cm.line_items(volume, scenario, sizes)
        paid = sum(cm.bill(items, volume))
        free = sum(cm.bill(items, volume, free_tier=True))
        assert 0 <= free < paid


def test_cold_starts_fade_with_volume_and_batches_cost_less_than_single_records(sizes: cm.Sizes) -> None:
    shares = [cm.cold_start_share(volume, 1.85) for volume in cm.VOLUMES]
    assert shares == sorted(shares, reverse=True) and 0 < shares[-1] < 0.01
    scenarios = cm.capture_scenarios()
    costs = {name: cm.total(cm.line_items(100_000, s, sizes)) for name, s in scenarios.items()}
    assert costs["batched"] < costs["typical"] < costs["pessimistic"]


def test_request_units_follow_dynamodb_rules_and_the_code_paths(sizes: cm.Sizes) -> None:
    assert cm.wru(1024) == 1 and cm.wru(1025) == 2 and cm.wru(700, 1100) == 2
    assert cm.rru(4096, consistent=True) == 1 and cm.rru(100, consistent=False) == 0.5
    items = {
        (item.stage, item.price): item.quantity
        for item in cm.line_items(100_000, cm.capture_scenarios()["typical"], sizes)
    }
    # API: key (eventually consistent) + tenant + rate state (consistent); rate, usage and job writes.
    assert items[("API", "ddb_rru")] == 2.5
    assert items[("API", "ddb_wru")] == 2 + math.ceil(sizes.job_queued / 1024)
    # Dispatcher: job, tenant, host reads; open the delivery, slot claim and release, the delivery's status,
    # its attempt, the job's webhook status: each write priced by request_units from the measured calls.
    assert items[("Dispatcher", "ddb_rru")] == 3
    dispatcher = cm.COUNTS.stage("dispatcher")
    expected_wru = sum(
        cm.request_units(call, "dispatcher", sizes)[1] * count
        for call, count in dispatcher.items()
        if call.startswith("dynamodb")
    )
    assert items[("Dispatcher", "ddb_wru")] == expected_wru >= 6
    # Customer: the download link goes through API Gateway to the API, which reads the job (consistent) and
    # answers 302; then one S3 GET. No writes and no SQS on the way.
    assert items[("Customer", "apigw_rest")] == 1
    assert items[("Customer", "lambda_request")] == 1
    download_s = cm.DOWNLOAD_WARM_S + cm.cold_start_share(100_000, cm.API_WARM_S) * cm.API_INIT_S
    assert items[("Customer", "lambda_gb_s")] == pytest.approx(cm.gb_seconds(cm.CONFIG.api_memory_mb, download_s))
    assert items[("Customer", "ddb_rru")] == 1
    assert items[("Customer", "s3_get")] == 1
    assert {price for stage, price in items if stage == "Customer"} == {
        "apigw_rest",
        "lambda_request",
        "lambda_gb_s",
        "ddb_rru",
        "s3_get",
    }
    assert cm.alarm_count() == (12, 14)
    assert [item.cost for item in cm.fixed_items() if item.price == "secret_month"] == [0.40]


def test_the_webhook_carries_the_download_link_the_api_signs(sizes: cm.Sizes) -> None:
    # <api>/v1/downloads/ten_<12>/job_<26>.png?expires=<10 digits>&signature=<43 base64url>
    parts = [cm.SAMPLE_API_URL, "/v1/downloads/", "t" * 16, "/", "j" * 30, ".png?expires=", "9" * 10, "&signature="]
    assert sizes.download_link == len("".join(parts)) + 43
    assert sizes.download_link < sizes.webhook_body < sizes.download_link + 1024
