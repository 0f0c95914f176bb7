"""HttpPolicy / PolicySession: retries, backoff, Retry-After, timeouts, JSON, redaction."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
import urllib3.exceptions
from hypothesis import given
from hypothesis import strategies as st
from requests.adapters import BaseAdapter

from loyalty_plugins.errors import (
    ConfigError,
    PlatformError,
    RateLimited,
    SyncError,
    TransientHttpError,
)
from loyalty_plugins.sync.http import (
    REDACTED,
    HttpPolicy,
    JsonResponse,
    PolicySession,
    PolicyWooCommerceAPI,
    RetryStats,
    parse_retry_after,
    platform_error_from_envelope,
    raise_for_platform_error,
    redact_headers,
    redact_text,
    redact_url,
)

URL = "https://shop.example/wp-json/wc/v3/orders"
NOW = 1_700_000_000.0
FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "real"


class Recorder:
    """Injected sleep that records instead of sleeping."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def make_session(
    policy: HttpPolicy | None = None, *, rng_value: float = 0.5
) -> tuple[PolicySession, Recorder]:
    sleep = Recorder()
    session = PolicySession(
        policy or HttpPolicy(), sleep=sleep, clock=lambda: NOW, rng=lambda: rng_value
    )
    return session, sleep


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


# ----------------------------------------------------------------------- retries


def test_503_is_retried_then_succeeds(mocked: responses.RequestsMock) -> None:
    mocked.get(URL, status=503)
    mocked.get(URL, status=503)
    mocked.get(URL, json=[{"id": 1}], status=200)
    session, sleep = make_session(HttpPolicy(backoff_base=0.5, backoff_cap=30.0))

    response = session.get(URL)

    assert response.status_code == 200
    assert len(mocked.calls) == 3
    # full jitter with rng=0.5: half of base*2^(n-1)
    assert sleep.sleeps == [0.25, 0.5]
    assert session.stats.retries == {"http_503": 2}
    assert session.stats.attempts == 3
    assert session.stats.requests == 1
    assert session.stats.slept_seconds == pytest.approx(0.75)


@pytest.mark.parametrize("status", [500, 502, 504])
def test_other_5xx_are_retried(mocked: responses.RequestsMock, status: int) -> None:
    mocked.get(URL, status=status)
    mocked.get(URL, status=200, json={})
    session, _ = make_session()
    assert session.get(URL).status_code == 200
    assert session.stats.retries == {f"http_{status}": 1}


def test_429_retry_after_seconds_sleeps_exactly_that(mocked: responses.RequestsMock) -> None:
    mocked.get(URL, status=429, headers={"Retry-After": "2"})
    mocked.get(URL, status=200, json=[])
    session, sleep = make_session()

    assert session.get(URL).status_code == 200
    assert sleep.sleeps == [2.0]
    assert session.stats.retries == {"http_429": 1}


def test_retry_after_http_date_is_measured_against_the_clock(
    mocked: responses.RequestsMock,
) -> None:
    when = format_datetime(datetime.fromtimestamp(NOW + 7, tz=UTC), usegmt=True)
    mocked.get(URL, status=503, headers={"Retry-After": when})
    mocked.get(URL, status=200, json=[])
    session, sleep = make_session()

    session.get(URL)
    assert sleep.sleeps == [7.0]


def test_retry_after_over_the_cap_raises_rate_limited_without_sleeping(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(URL, status=429, headers={"Retry-After": "120"})
    session, sleep = make_session(HttpPolicy(max_retry_after=60.0))

    with pytest.raises(RateLimited) as info:
        session.get(URL)

    assert info.value.retry_after == 120.0
    assert sleep.sleeps == []
    assert len(mocked.calls) == 1
    assert session.stats.rate_limited == 1


def test_retry_after_date_over_the_cap_raises_rate_limited(
    mocked: responses.RequestsMock,
) -> None:
    when = format_datetime(datetime.fromtimestamp(NOW + 3600, tz=UTC), usegmt=True)
    mocked.get(URL, status=503, headers={"Retry-After": when})
    session, sleep = make_session(HttpPolicy(max_retry_after=60.0))
    with pytest.raises(RateLimited) as info:
        session.get(URL)
    assert info.value.retry_after == pytest.approx(3600.0)
    assert sleep.sleeps == []


def test_429_without_retry_after_uses_backoff(mocked: responses.RequestsMock) -> None:
    mocked.get(URL, status=429)
    mocked.get(URL, status=200, json=[])
    session, sleep = make_session(HttpPolicy(backoff_base=1.0), rng_value=0.25)
    session.get(URL)
    assert sleep.sleeps == [0.25]


def test_garbage_retry_after_falls_back_to_backoff(mocked: responses.RequestsMock) -> None:
    mocked.get(URL, status=503, headers={"Retry-After": "soon-ish"})
    mocked.get(URL, status=200, json=[])
    session, sleep = make_session(HttpPolicy(backoff_base=1.0, jitter=False))
    session.get(URL)
    assert sleep.sleeps == [1.0]


def test_connection_error_is_retried(mocked: responses.RequestsMock) -> None:
    mocked.get(URL, body=requests.ConnectionError("connection reset"))
    mocked.get(URL, status=200, json=[])
    session, sleep = make_session()

    assert session.get(URL).status_code == 200
    assert session.stats.retries == {"connection": 1}
    assert len(sleep.sleeps) == 1


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (requests.exceptions.ConnectTimeout("connect timed out"), "connect_timeout"),
        (requests.exceptions.ReadTimeout("read timed out"), "read_timeout"),
        (requests.exceptions.ChunkedEncodingError("IncompleteRead"), "incomplete_body"),
    ],
)
def test_timeouts_and_broken_bodies_are_retried(
    mocked: responses.RequestsMock, error: Exception, cause: str
) -> None:
    mocked.get(URL, body=error)
    mocked.get(URL, status=200, json=[])
    session, _ = make_session()
    assert session.get(URL).status_code == 200
    assert session.stats.retries == {cause: 1}


def test_max_attempts_raises_transient_http_error_with_attempts(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(URL, status=503)
    session, sleep = make_session(HttpPolicy(max_attempts=4))

    with pytest.raises(TransientHttpError) as info:
        session.get(URL)

    assert info.value.attempts == 4
    assert info.value.status == 503
    assert len(mocked.calls) == 4
    assert len(sleep.sleeps) == 3
    assert session.stats.gave_up == 1


def test_max_attempts_on_connection_errors_has_no_status(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(URL, body=requests.ConnectionError("down"))
    session, _ = make_session(HttpPolicy(max_attempts=2))
    with pytest.raises(TransientHttpError) as info:
        session.get(URL)
    assert info.value.attempts == 2
    assert info.value.status is None


def test_max_attempts_one_means_no_retry(mocked: responses.RequestsMock) -> None:
    mocked.get(URL, status=502)
    session, sleep = make_session(HttpPolicy(max_attempts=1))
    with pytest.raises(TransientHttpError) as info:
        session.get(URL)
    assert info.value.attempts == 1
    assert sleep.sleeps == []


def test_4xx_is_returned_untouched_and_not_retried(mocked: responses.RequestsMock) -> None:
    mocked.get(URL, status=404, json={"code": "rest_no_route", "message": "nope"})
    session, sleep = make_session()
    response = session.get(URL)
    assert response.status_code == 404
    assert len(mocked.calls) == 1
    assert sleep.sleeps == []


# ----------------------------------------------------------------------- idempotency


def test_post_is_not_retried_on_5xx_by_default(mocked: responses.RequestsMock) -> None:
    mocked.post(URL, status=503)
    session, sleep = make_session()
    with pytest.raises(TransientHttpError) as info:
        session.post(URL, json={"code": "X"})
    assert info.value.attempts == 1
    assert info.value.status == 503
    assert "idempotent" in str(info.value)
    assert len(mocked.calls) == 1
    assert sleep.sleeps == []


def test_post_marked_idempotent_is_retried(mocked: responses.RequestsMock) -> None:
    mocked.post(URL, status=503)
    mocked.post(URL, status=200, json={"data": {}})
    session, _ = make_session()
    result = session.request_json("POST", URL, json={"query": "{ shop { id } }"}, idempotent=True)
    assert result.data == {"data": {}}
    assert len(mocked.calls) == 2


def test_post_is_retried_on_429(mocked: responses.RequestsMock) -> None:
    mocked.post(URL, status=429, headers={"Retry-After": "1"})
    mocked.post(URL, status=201, json={"id": 5})
    session, sleep = make_session()
    assert session.post(URL, json={}).status_code == 201
    assert sleep.sleeps == [1.0]


def test_post_read_timeout_is_not_retried(mocked: responses.RequestsMock) -> None:
    mocked.post(URL, body=requests.exceptions.ReadTimeout("read timed out"))
    session, _ = make_session()
    with pytest.raises(TransientHttpError) as info:
        session.post(URL, json={})
    assert info.value.attempts == 1
    assert len(mocked.calls) == 1


def test_post_is_retried_when_the_connection_was_never_made(
    mocked: responses.RequestsMock,
) -> None:
    refused = urllib3.exceptions.NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]
    mocked.post(
        URL,
        body=requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", refused)),  # type: ignore[arg-type]
    )
    mocked.post(URL, status=201, json={})
    session, _ = make_session()
    assert session.post(URL, json={}).status_code == 201
    assert session.stats.retries == {"connection": 1}


def test_ssl_errors_are_not_retried(mocked: responses.RequestsMock) -> None:
    mocked.get(URL, body=requests.exceptions.SSLError("certificate verify failed"))
    session, _ = make_session()
    with pytest.raises(SyncError) as info:
        session.get(URL)
    assert not isinstance(info.value, TransientHttpError)
    assert len(mocked.calls) == 1


# ----------------------------------------------------------------------- JSON


def test_truncated_json_is_retried(mocked: responses.RequestsMock) -> None:
    mocked.get(URL, body='[{"id": 1, "total": "12.', status=200)
    mocked.get(URL, body="", status=200)
    mocked.get(URL, json=[{"id": 1, "total": "12.50"}], status=200)
    session, sleep = make_session()

    result = session.request_json("GET", URL)

    assert result.data == [{"id": 1, "total": "12.50"}]
    assert result.json() is result.data
    assert result.status_code == 200
    assert session.stats.retries == {"invalid_json": 2}
    assert len(sleep.sleeps) == 2


def test_truncated_json_gives_up_after_max_attempts(mocked: responses.RequestsMock) -> None:
    mocked.get(URL, body="<html>gateway", status=200)
    session, _ = make_session(HttpPolicy(max_attempts=3))
    with pytest.raises(TransientHttpError) as info:
        session.request_json("GET", URL)
    assert info.value.attempts == 3
    assert info.value.status == 200


def test_truncated_json_on_a_post_is_not_retried(mocked: responses.RequestsMock) -> None:
    mocked.post(URL, body='{"id": ', status=201)
    session, _ = make_session()
    with pytest.raises(TransientHttpError) as info:
        session.request_json("POST", URL, json={"code": "X"})
    assert info.value.attempts == 1
    assert len(mocked.calls) == 1


def test_request_json_204_has_no_data(mocked: responses.RequestsMock) -> None:
    mocked.delete(URL, status=204)
    session, _ = make_session()
    assert session.request_json("DELETE", URL).data is None


def test_request_json_raises_platform_error_on_4xx(mocked: responses.RequestsMock) -> None:
    envelope = json.loads((FIXTURES / "woocommerce" / "error-wp-rest-no-route.json").read_text())
    mocked.get(URL, status=404, json=envelope)
    session, _ = make_session()
    with pytest.raises(PlatformError) as info:
        session.request_json("GET", URL)
    assert info.value.status == 404
    assert info.value.code == "rest_no_route"
    assert info.value.payload == envelope
    assert len(mocked.calls) == 1


# ----------------------------------------------------------------------- platform errors


@pytest.mark.parametrize(
    "name", ["error-wp-rest-no-route.json", "error-woocommerce-rest-term-invalid.json"]
)
def test_woocommerce_envelope_fixtures_become_platform_errors(
    mocked: responses.RequestsMock, name: str
) -> None:
    envelope = json.loads((FIXTURES / "woocommerce" / name).read_text())
    mocked.get(URL, status=envelope["data"]["status"], json=envelope)
    response = requests.get(URL, timeout=1)
    with pytest.raises(PlatformError) as info:
        raise_for_platform_error(response)
    assert info.value.status == envelope["data"]["status"]
    assert info.value.code == envelope["code"]
    assert envelope["message"] in str(info.value)


def test_raise_for_platform_error_ignores_success(mocked: responses.RequestsMock) -> None:
    mocked.get(URL, status=200, json=[])
    raise_for_platform_error(requests.get(URL, timeout=1))


def test_non_json_error_body_uses_the_reason(mocked: responses.RequestsMock) -> None:
    mocked.get(URL, status=401, body="<html>denied</html>")
    with pytest.raises(PlatformError) as info:
        raise_for_platform_error(requests.get(URL, timeout=1))
    assert info.value.code == "http_401"
    assert info.value.status == 401
    assert "Unauthorized" in str(info.value)


def test_shopify_errors_body() -> None:
    error = platform_error_from_envelope(
        {"errors": {"email": ["is invalid"], "base": "oops"}}, http_status=422
    )
    assert error.status == 422
    assert error.code == "http_422"
    assert "email: is invalid" in str(error)


def test_batch_item_error_uses_the_envelope_status() -> None:
    item_error = {
        "code": "woocommerce_rest_invalid_id",
        "message": "Invalid ID.",
        "data": {"status": 400},
    }
    error = platform_error_from_envelope(item_error, http_status=200)
    assert (error.status, error.code) == (400, "woocommerce_rest_invalid_id")


# ----------------------------------------------------------------------- timeouts


def test_timeout_is_always_passed_to_requests(mocked: responses.RequestsMock) -> None:
    mocked.get(URL, status=200, json=[])
    mocked.post(URL, status=200, json={})
    session, _ = make_session(HttpPolicy(connect_timeout=3.0, read_timeout=20.0))

    session.get(URL)
    session.get(URL, timeout=None)
    session.request_json("POST", URL, json={"q": 1})
    session.get(URL, timeout=7)

    timeouts = [call.request.req_kwargs["timeout"] for call in mocked.calls]  # type: ignore[attr-defined]
    assert timeouts == [(3.0, 20.0), (3.0, 20.0), (3.0, 20.0), 7]


class RecordingAdapter(BaseAdapter):
    """Transport adapter that records what requests hands to the transport."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[dict[str, Any]] = []

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        self.sent.append({"url": request.url, "headers": dict(request.headers), **kwargs})
        response = requests.Response()
        response.status_code = 200
        response._content = b"[]"
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        pass


def test_timeout_reaches_the_transport_adapter() -> None:
    session, _ = make_session()
    adapter = RecordingAdapter()
    session.mount("https://", adapter)

    session.get(URL)
    session.post(URL, json={})
    session.request("PUT", URL, None, b"{}")  # positional params/data
    session.request_json("GET", URL)

    assert [sent["timeout"] for sent in adapter.sent] == [(5.0, 30.0)] * 4
    assert all(sent["timeout"] is not None for sent in adapter.sent)


def test_positional_arguments_are_honoured(mocked: responses.RequestsMock) -> None:
    mocked.get(URL, status=200, json=[])
    session, _ = make_session()
    session.request("GET", URL, {"page": "3"})
    assert mocked.calls[0].request.url == f"{URL}?page=3"
    with pytest.raises(TypeError):
        session.request("GET", URL, {"page": "3"}, params={"page": "4"})


# ----------------------------------------------------------------------- backoff


@given(
    base=st.floats(min_value=0.0, max_value=100.0),
    cap=st.floats(min_value=0.0, max_value=300.0),
    retry_number=st.integers(min_value=1, max_value=10_000),
    fraction=st.floats(min_value=0.0, max_value=1.0),
)
def test_backoff_delay_within_zero_and_cap(
    base: float, cap: float, retry_number: int, fraction: float
) -> None:
    policy = HttpPolicy(backoff_base=base, backoff_cap=cap)
    delay = policy.backoff_delay(retry_number, lambda: fraction)
    assert 0.0 <= delay <= cap
    assert delay <= policy.backoff_ceiling(retry_number)


@given(fraction=st.floats(allow_nan=False))
def test_backoff_delay_bounded_even_with_a_misbehaving_rng(fraction: float) -> None:
    policy = HttpPolicy(backoff_base=1.0, backoff_cap=10.0)
    assert 0.0 <= policy.backoff_delay(5, lambda: fraction) <= 10.0


@given(retry_number=st.integers(min_value=1, max_value=200))
def test_backoff_without_jitter_is_the_capped_exponential(retry_number: int) -> None:
    policy = HttpPolicy(backoff_base=0.5, backoff_cap=30.0, jitter=False)
    expected = min(30.0, 0.5 * 2.0 ** (retry_number - 1))
    assert policy.backoff_delay(retry_number) == expected
    assert policy.backoff_ceiling(retry_number + 1) >= policy.backoff_ceiling(retry_number)


def test_slept_delays_never_exceed_the_cap(mocked: responses.RequestsMock) -> None:
    mocked.get(URL, status=503)
    session, sleep = make_session(
        HttpPolicy(max_attempts=10, backoff_base=1.0, backoff_cap=4.0), rng_value=0.999
    )
    with pytest.raises(TransientHttpError):
        session.get(URL)
    assert len(sleep.sleeps) == 9
    assert all(0.0 <= delay <= 4.0 for delay in sleep.sleeps)


# ----------------------------------------------------------------------- Retry-After parsing


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("0", 0.0),
        ("2", 2.0),
        (" 120 ", 120.0),
        ("1.5", 1.5),
        ("-5", None),
        ("soon", None),
        (format_datetime(datetime.fromtimestamp(NOW + 30, tz=UTC), usegmt=True), 30.0),
        (format_datetime(datetime.fromtimestamp(NOW - 30, tz=UTC), usegmt=True), 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == expected


@given(st.text(max_size=60))
def test_parse_retry_after_never_raises(header: str) -> None:
    result = parse_retry_after(header, now=NOW)
    assert result is None or result >= 0.0


@given(st.integers(min_value=0, max_value=10**9))
def test_parse_retry_after_delta_seconds_round_trip(seconds: int) -> None:
    assert parse_retry_after(str(seconds), now=NOW) == float(seconds)


# ----------------------------------------------------------------------- policy & stats


def test_policy_is_frozen_and_validated() -> None:
    policy = HttpPolicy()
    assert policy.timeout == (5.0, 30.0)
    assert policy.retry_statuses == frozenset({429, 500, 502, 503, 504})
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.max_attempts = 3  # type: ignore[misc]
    for bad in (
        {"connect_timeout": 0},
        {"read_timeout": -1.0},
        {"read_timeout": float("inf")},
        {"max_attempts": 0},
        {"max_attempts": 2.5},
        {"backoff_cap": -1.0},
        {"max_retry_after": float("nan")},
    ):
        with pytest.raises(ConfigError):
            HttpPolicy(**bad)


def test_stats_summary_and_snapshot() -> None:
    stats = RetryStats()
    stats.record_request()
    for _ in range(3):
        stats.record_attempt()
    stats.record_retry("http_503", 0.5)
    stats.record_retry("invalid_json", 1.0)
    assert stats.total_retries == 2
    assert stats.as_dict() == {
        "requests": 1,
        "attempts": 3,
        "retries": {"http_503": 1, "invalid_json": 1},
        "total_retries": 2,
        "slept_seconds": 1.5,
        "rate_limited": 0,
        "gave_up": 0,
    }
    assert stats.summary() == (
        "1 requests, 3 attempts, 2 retries (http_503: 1, invalid_json: 1), slept 1.50 s, "
        "0 rate-limited, 0 gave up"
    )


def test_stats_can_be_shared_between_sessions(mocked: responses.RequestsMock) -> None:
    mocked.get(URL, status=200, json=[])
    stats = RetryStats()
    PolicySession(stats=stats).get(URL)
    PolicySession(stats=stats).get(URL)
    assert stats.requests == 2


# ----------------------------------------------------------------------- redaction


def test_redact_url() -> None:
    url = (
        "https://ck_user:cs_pass@shop.example/wp-json/wc/v3/orders"
        "?page=2&consumer_key=ck_123&CONSUMER_SECRET=cs_456&oauth_signature=abc%3D&per_page=100"
    )
    redacted = redact_url(url)
    for secret in ("ck_user", "cs_pass", "ck_123", "cs_456", "abc%3D"):
        assert secret not in redacted
    assert redacted == (
        f"https://{REDACTED}@shop.example/wp-json/wc/v3/orders?page=2&consumer_key={REDACTED}"
        f"&CONSUMER_SECRET={REDACTED}&oauth_signature={REDACTED}&per_page=100"
    )
    assert redact_url(URL) == URL
    assert redact_url(URL.encode()) == URL


def test_redact_headers() -> None:
    headers = {
        "Authorization": "Basic Y2s6Y3M=",
        "x-shopify-access-token": "shpat_123",
        "Accept": "application/json",
    }
    assert redact_headers(headers) == {
        "Authorization": REDACTED,
        "x-shopify-access-token": REDACTED,
        "Accept": "application/json",
    }
    assert headers["Authorization"] == "Basic Y2s6Y3M="  # the input is not modified
    assert redact_headers(None) == {}


def test_redact_text() -> None:
    text = (
        "HTTPSConnectionPool(host='shop.example', port=443): Max retries exceeded with url: "
        "/wp-json/wc/v3/orders?consumer_key=ck_123&consumer_secret=cs_456 (Caused by x)"
    )
    redacted = redact_text(text)
    assert "ck_123" not in redacted and "cs_456" not in redacted
    assert "shop.example" in redacted
    assert "https://user:pw@host/" not in redact_text("see https://user:pw@host/x")


@given(st.text(alphabet=st.characters(blacklist_characters="&#=%+", codec="ascii"), min_size=1))
def test_redact_url_never_leaks_a_consumer_secret(secret: str) -> None:
    url = f"https://shop.example/x?a=1&consumer_secret={secret}&b=2"
    redacted = redact_url(url)
    assert parse_qs(urlsplit(redacted).query)["consumer_secret"] == [REDACTED]


def test_logs_and_errors_never_contain_secrets(
    mocked: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    leaky = requests.ConnectionError(
        "HTTPSConnectionPool(host='shop.example', port=443): Max retries exceeded with url: "
        "/wp-json/wc/v3/orders?consumer_key=ck_live_123&consumer_secret=cs_live_456"
    )
    mocked.get(URL, body=leaky)
    session, _ = make_session(HttpPolicy(max_attempts=3))
    caplog.set_level(logging.DEBUG, logger="loyalty_plugins.sync.http")

    with pytest.raises(TransientHttpError) as info:
        session.get(
            f"{URL}?consumer_key=ck_live_123",
            params={"consumer_secret": "cs_live_456"},
            headers={"Authorization": "Basic c2VjcmV0"},
        )

    assert len(caplog.records) == 2
    text = caplog.text + str(info.value)
    for secret in ("ck_live_123", "cs_live_456", "c2VjcmV0"):
        assert secret not in text
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


# ----------------------------------------------------------------------- woocommerce package


def test_woocommerce_api_goes_through_the_policy(mocked: responses.RequestsMock) -> None:
    mocked.get(URL, status=503)
    mocked.get(URL, status=200, json=[{"id": 727}], headers={"X-WP-TotalPages": "1"})
    session, sleep = make_session()
    api = PolicyWooCommerceAPI("https://shop.example", "ck_1", "cs_1", session=session)

    response = api.get("orders", params={"page": 1, "per_page": 100})

    assert response.json() == [{"id": 727}]
    assert len(mocked.calls) == 2
    assert len(sleep.sleeps) == 1
    sent = mocked.calls[1].request
    assert sent.url == f"{URL}?page=1&per_page=100"
    assert sent.headers["Authorization"].startswith("Basic ")
    assert sent.headers["accept"] == "application/json"
    assert sent.req_kwargs["timeout"] == (5.0, 30.0)  # type: ignore[attr-defined]
    assert "ck_1" not in repr(api)


def test_woocommerce_query_string_auth_is_redacted_in_logs(
    mocked: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    mocked.get(URL, status=502)
    mocked.get(URL, status=200, json=[])
    session, _ = make_session()
    api = PolicyWooCommerceAPI(
        "https://shop.example", "ck_qs", "cs_qs", session=session, query_string_auth=True
    )
    caplog.set_level(logging.DEBUG, logger="loyalty_plugins.sync.http")

    api.get("orders")

    query = parse_qs(urlsplit(mocked.calls[1].request.url or "").query)
    assert query == {"consumer_key": ["ck_qs"], "consumer_secret": ["cs_qs"]}
    assert "Authorization" not in mocked.calls[1].request.headers
    assert caplog.records
    assert "ck_qs" not in caplog.text and "cs_qs" not in caplog.text


def test_woocommerce_oauth_over_http(mocked: responses.RequestsMock) -> None:
    http_url = "http://shop.example/wp-json/wc/v3/orders"
    mocked.get(http_url, status=200, json=[])
    session, _ = make_session()
    api = PolicyWooCommerceAPI("http://shop.example", "ck_o", "cs_o", session=session)

    api.get("orders", params={"page": 2}, oauth_timestamp=1_700_000_000)

    sent_url = mocked.calls[0].request.url or ""
    query = parse_qs(urlsplit(sent_url).query)
    assert query["page"] == ["2"]  # sent once, inside the signed URL
    assert query["oauth_timestamp"] == ["1700000000"]
    assert query["oauth_signature_method"] == ["HMAC-SHA256"]
    assert "oauth_signature" in query
    assert "oauth_timestamp" not in mocked.calls[0].request.req_kwargs  # type: ignore[attr-defined]


def test_woocommerce_post_is_json_and_not_retried_unless_idempotent(
    mocked: responses.RequestsMock,
) -> None:
    batch = "https://shop.example/wp-json/wc/v3/coupons/batch"
    mocked.post(batch, status=503)
    mocked.post(batch, status=503)
    mocked.post(batch, status=200, json={"update": []})
    session, _ = make_session()
    api = PolicyWooCommerceAPI("https://shop.example", "ck", "cs", session=session)

    with pytest.raises(TransientHttpError):
        api.post("coupons/batch", {"create": [{"code": "ÉTÉ"}]})
    response = api.post(
        "coupons/batch", {"update": [{"id": 1}]}, idempotent=True, headers={"X-Trace": "t"}
    )

    assert response.status_code == 200
    assert len(mocked.calls) == 3
    first = mocked.calls[0].request
    assert json.loads(first.body or b"") == {"create": [{"code": "ÉTÉ"}]}
    assert first.headers["content-type"] == "application/json;charset=utf-8"
    assert mocked.calls[2].request.headers["X-Trace"] == "t"


def test_woocommerce_explicit_timeout_wins(mocked: responses.RequestsMock) -> None:
    mocked.get(URL, status=200, json=[])
    session, _ = make_session()
    api = PolicyWooCommerceAPI("https://shop.example", "ck", "cs", session=session, timeout=12)
    api.get("orders")
    api.get("orders", timeout=(1, 2))
    timeouts = [call.request.req_kwargs["timeout"] for call in mocked.calls]  # type: ignore[attr-defined]
    assert timeouts == [12, (1, 2)]


def test_woocommerce_api_gets_a_default_session() -> None:
    api = PolicyWooCommerceAPI("https://shop.example", "ck", "cs")
    assert isinstance(api.session, PolicySession)


def test_json_response_is_a_page_response(mocked: responses.RequestsMock) -> None:
    mocked.get(URL, status=200, json=[1], headers={"X-WP-TotalPages": "3"})
    session, _ = make_session()
    result = session.request_json("GET", URL)
    assert isinstance(result, JsonResponse)
    headers: Mapping[str, str] = result.headers
    assert headers["x-wp-totalpages"] == "3"
