"""Requests refused at submission rather than failing later, and read exactly as sent.

- The pixel budget: an image the capture could never open (Pillow refuses more than 2 x MAX_IMAGE_PIXELS)
  is a 422 on `deviceScaleFactor`, judged on the effective values (device presets, full-page cut, clip).
- Strict types: no number or flag of a request model is coerced from a string, a bool or a number.
- A batch names every invalid item (`items[i].…`), not only the first.
"""

from __future__ import annotations

from typing import Any

import pytest
from PIL import Image
from pydantic import BaseModel, ValidationError

from shotwire_core import batches
from shotwire_core.errors import InvalidRequestError, problem_from_pydantic
from shotwire_core.jobs import SubmissionRules
from shotwire_core.models import (
    MAX_CAPTURE_HEIGHT,
    MAX_IMAGE_PIXELS,
    BatchRequest,
    CaptureRequest,
    ScreenshotRequest,
    SecretRotationRequest,
)

URL = "https://example.com/"


def verdict(model: type[BaseModel], body: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, rule) of each problem, as the API's 422 names them; [] when accepted."""
    try:
        model.model_validate(body)
    except ValidationError as error:
        return [(p.field, p.rule) for p in (problem_from_pydantic(dict(e)) for e in error.errors())]
    return []


def problems(**fields: Any) -> list[tuple[str, str]]:
    return verdict(ScreenshotRequest, {"url": URL, **fields})


# --- the pixel budget ---------------------------------------------------------------------------------


def test_the_budget_is_what_pillow_opens() -> None:
    # Image.open raises DecompressionBombError above twice MAX_IMAGE_PIXELS (it only warns above it once).
    assert MAX_IMAGE_PIXELS == 2 * Image.MAX_IMAGE_PIXELS
    with pytest.warns(Image.DecompressionBombWarning):
        Image._decompression_bomb_check((MAX_IMAGE_PIXELS, 1))  # at the budget: opened
    with pytest.raises(Image.DecompressionBombError):
        Image._decompression_bomb_check((MAX_IMAGE_PIXELS + 1, 1))


def test_an_image_the_capture_could_never_open_is_refused_naming_the_scale_factor() -> None:
    assert problems(width=10000, height=10000, deviceScaleFactor=2) == [("deviceScaleFactor", "pixel_budget")]
    with pytest.raises(ValidationError) as caught:
        ScreenshotRequest.model_validate({"url": URL, "width": 10000, "height": 10000, "deviceScaleFactor": 2})
    (problem,) = [problem_from_pydantic(dict(e)) for e in caught.value.errors()]
    assert problem.message.startswith("deviceScaleFactor 2 makes")
    assert "400,000,000" in problem.message and f"{MAX_IMAGE_PIXELS:,}" in problem.message


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"width": 10000, "height": 10000},  # 100 M pixels: over Pillow's warning, under its error
        {"width": 10000, "fullPage": True},  # 10000 x 16384 at a ratio of 1
        {"width": 10000, "height": 10000, "deviceScaleFactor": 1.3},  # 13000 x 13000 = 169 M
        {"width": 10000, "height": 10000, "deviceScaleFactor": 3, "format": "pdf"},  # no image to open
        {"width": 10000, "height": 10000, "deviceScaleFactor": 3, "selector": "#logo"},  # the element's size
        {"device": "iphone-15", "fullPage": True},
        {
            "width": 10000,
            "height": 10000,
            "deviceScaleFactor": 3,
            "clip": {"x": 0, "y": 0, "width": 500, "height": 500},
        },
        {"width": 5000, "deviceScaleFactor": 3, "fullPage": True, "maxHeight": 1000},  # 15000 x 3000
    ],
)
def test_what_fits_the_budget_is_accepted(fields: dict[str, Any]) -> None:
    assert problems(**fields) == []


def test_a_device_presets_scale_factor_counts() -> None:
    # iphone-15 renders at 3: 10000 x 10000 CSS px is a 30000 x 30000 image.
    assert problems(device="iphone-15", width=10000, height=10000) == [("deviceScaleFactor", "pixel_budget")]
    assert problems(device="iphone-15", width=10000, height=10000, deviceScaleFactor=1) == []
    assert problems(device="macbook-retina", width=10000, height=10000) == [("deviceScaleFactor", "pixel_budget")]


def test_a_full_page_counts_at_the_height_it_is_cut_at() -> None:
    # The viewport is small, but the page may be as tall as the cut: 16384 device px at any ratio.
    assert problems(width=10000, height=100, deviceScaleFactor=2, fullPage=True) == [
        ("deviceScaleFactor", "pixel_budget")
    ]
    assert problems(device="iphone-15", width=10000, fullPage=True) == [("deviceScaleFactor", "pixel_budget")]
    # A lower maxHeight makes it fit: 20000 x 8000 device px.
    assert problems(width=10000, height=100, deviceScaleFactor=2, fullPage=True, maxHeight=4000) == []
    # The cut is at most MAX_CAPTURE_HEIGHT device px, so width x MAX_CAPTURE_HEIGHT x ratio is the worst case.
    widest = MAX_IMAGE_PIXELS // (MAX_CAPTURE_HEIGHT * 2)
    assert problems(width=widest, deviceScaleFactor=2, fullPage=True) == []
    assert problems(width=widest + 1, deviceScaleFactor=2, fullPage=True) == [("deviceScaleFactor", "pixel_budget")]


def test_a_clip_counts_at_its_own_size() -> None:
    def clip(height: int) -> dict[str, int]:
        return {"x": 0, "y": 0, "width": 10000, "height": height}

    # 20000 x 8946 = 178,920,000 device px fits; 20000 x 8948 = 178,960,000 does not.
    assert problems(deviceScaleFactor=2, clip=clip(4473)) == []
    assert problems(deviceScaleFactor=2, clip=clip(4474)) == [("deviceScaleFactor", "pixel_budget")]


def test_a_batch_default_over_the_budget_is_named_once() -> None:
    request = BatchRequest.model_validate(
        {"items": [URL, URL], "defaults": {"width": 10000, "height": 10000, "deviceScaleFactor": 2}}
    )
    with pytest.raises(InvalidRequestError) as caught:
        batches.expand(request)
    assert [(p.field, p.rule) for p in caught.value.problems] == [("defaults.deviceScaleFactor", "pixel_budget")]


# --- strict types -------------------------------------------------------------------------------------

REFUSED: list[tuple[str, Any]] = [
    ("deviceScaleFactor", "2"),
    ("deviceScaleFactor", True),
    ("deviceScaleFactor", "1.5"),
    ("width", "100"),
    ("width", True),
    ("width", 100.0),
    ("height", False),
    ("quality", "80"),
    ("quality", True),
    ("maxHeight", "1000"),
    ("delayMs", True),
    ("timeoutMs", "30000"),
    ("fullPage", 1),
    ("fullPage", "true"),
    ("omitBackground", 0),
    ("darkMode", "yes"),
    ("reducedMotion", 1),
    ("freezeAnimations", 0),
    ("blockAds", "true"),
    ("blockCookieBanners", 1),
    ("failOnHttpError", 1.0),
]


@pytest.mark.parametrize(("field", "value"), REFUSED, ids=[f"{f}={v!r}" for f, v in REFUSED])
def test_numbers_and_flags_are_not_coerced(field: str, value: Any) -> None:
    fields = {"format": "jpeg", field: value} if field == "quality" else {field: value}
    (problem,) = problems(**fields)
    assert problem[0] == field
    assert problem[1] in ("int_type", "float_type", "bool_type")


@pytest.mark.parametrize("value", [2, 1.5, 3, 1])
def test_a_scale_factor_may_be_an_int_or_a_float(value: float) -> None:
    request = ScreenshotRequest.model_validate({"url": URL, "deviceScaleFactor": value})
    assert request.device_scale_factor == value
    assert isinstance(request.device_scale_factor, float)


def test_a_scale_factor_is_strict_in_json_too() -> None:
    for raw in ('"2"', "true"):
        with pytest.raises(ValidationError):
            ScreenshotRequest.model_validate_json(f'{{"url": "{URL}", "deviceScaleFactor": {raw}}}')
    assert ScreenshotRequest.model_validate_json(f'{{"url": "{URL}", "deviceScaleFactor": 2}}').device_scale_factor == 2


def test_nested_and_other_request_models_are_strict() -> None:
    assert problems(clip={"x": "0", "y": 0, "width": 10, "height": 10}) == [("clip.x", "int_type")]
    assert problems(clip={"x": 0, "y": True, "width": 10, "height": 10}) == [("clip.y", "int_type")]
    assert problems(cookies=[{"name": "a", "value": "b", "secure": 1}]) == [("cookies.0.secure", "bool_type")]
    assert problems(cookies=[{"name": "a", "value": "b", "httpOnly": "true"}]) == [("cookies.0.httpOnly", "bool_type")]
    assert verdict(CaptureRequest, {"url": URL, "fullpage": 1}) == [("fullpage", "bool_type")]
    assert verdict(CaptureRequest, {"url": URL, "width": "800"}) == [("width", "int_type")]
    assert verdict(SecretRotationRequest, {"overlapSeconds": "60"}) == [("overlapSeconds", "int_type")]
    assert verdict(SecretRotationRequest, {"overlapSeconds": True}) == [("overlapSeconds", "int_type")]


# --- batches name every invalid item -------------------------------------------------------------------


def test_a_batch_names_every_item_that_is_neither_a_url_nor_an_object() -> None:
    body = {"items": [42, URL, None, ["x"], {"url": URL}]}
    assert verdict(BatchRequest, body) == [
        ("items.0", "batch_item"),
        ("items.2", "batch_item"),
        ("items.3", "batch_item"),
    ]


def test_expand_names_every_invalid_item() -> None:
    request = BatchRequest.model_validate(
        {
            "items": [
                {"url": URL, "width": 0},
                URL,
                "ftp://example.com/",
                {"url": URL, "deviceScaleFactor": "2"},
                {"url": URL, "width": 10000, "height": 10000, "deviceScaleFactor": 3},
            ]
        }
    )
    with pytest.raises(InvalidRequestError) as caught:
        batches.expand(request)
    assert [(p.field, p.rule) for p in caught.value.problems] == [
        ("items[0].width", "greater_than_equal"),
        ("items[2].url", "url_scheme"),
        ("items[3].deviceScaleFactor", "float_type"),
        ("items[4].deviceScaleFactor", "pixel_budget"),
    ]


class _Jobs:
    def __init__(self) -> None:
        self.created: list[Any] = []

    def create_batch(self, record: Any) -> None:
        self.created.append(record)

    def create_many(self, jobs: list[Any]) -> None:
        self.created += jobs


class _Queue:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_many(self, bodies: list[dict[str, Any]]) -> None:
        self.sent += bodies


RULES = SubmissionRules(allow_private=False, retention_days=7)


def submit(body: dict[str, Any]) -> list[tuple[str, str]]:
    jobs, queue = _Jobs(), _Queue()
    try:
        batches.submit_batch("ten_1", BatchRequest.model_validate(body), jobs=jobs, capture_queue=queue, rules=RULES)  # type: ignore[arg-type]
    except InvalidRequestError as error:
        assert jobs.created == [] and queue.sent == []  # nothing of a refused batch is kept or queued
        return [(p.field, p.rule) for p in error.problems]
    assert len(queue.sent) == len(body["items"])
    return []


def test_a_batch_names_every_item_whose_destination_is_refused() -> None:
    items = [
        "http://127.0.0.1/",
        URL,
        "http://10.0.0.1/",
        {"url": URL, "webhookUrl": "https://localhost/hook"},
        {"url": "http://169.254.169.254/", "webhookUrl": "http://hooks.example.com/"},
    ]
    assert submit({"items": items}) == [
        ("items[0].url", "blocked_url"),
        ("items[2].url", "blocked_url"),
        ("items[3].webhookUrl", "blocked_url"),
        ("items[4].url", "blocked_url"),
        ("items[4].webhookUrl", "https_required"),
    ]


def test_a_batch_names_invalid_and_refused_items_together_in_item_order() -> None:
    items = ["http://127.0.0.1/", {"url": URL, "width": 0}, URL, {"url": URL, "fullPage": 1}]
    assert submit({"items": items}) == [
        ("items[0].url", "blocked_url"),
        ("items[1].width", "greater_than_equal"),
        ("items[3].fullPage", "bool_type"),
    ]


def test_a_refused_default_webhook_is_named_once_not_per_item() -> None:
    body = {"items": [URL, URL, URL], "defaults": {"webhookUrl": "https://127.0.0.1/hook"}}
    assert submit(body) == [("defaults.webhookUrl", "blocked_url")]


def test_a_valid_batch_is_still_queued() -> None:
    assert submit({"items": [URL, {"url": URL, "format": "jpeg"}], "defaults": {"webhookUrl": URL}}) == []


def test_at_most_the_first_problems_are_reported() -> None:
    problems = submit({"items": ["http://127.0.0.1/"] * 200})
    assert len(problems) == batches.MAX_PROBLEMS_REPORTED
    assert problems[-1] == (f"items[{batches.MAX_PROBLEMS_REPORTED - 1}].url", "blocked_url")
