"""Tests of the WooCommerce emulator: a real server hit with ``requests`` and ``woocommerce.API``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from woocommerce import API

from loyalty_plugins.testing.woocommerce import (
    CouponNotUsableError,
    EmulatorFaults,
    WooCommerceEmulator,
    WooStore,
    generate_store,
    run_emulator,
    webhook_signature,
)
from loyalty_plugins.testing.woocommerce import fixtures as emulator_fixtures
from loyalty_plugins.testing.woocommerce.render import wp_json

# The packaged pytest fixtures, made visible to this module (the lead also registers them
# as a plugin; a module-level name simply takes precedence).
woocommerce_emulator = emulator_fixtures.woocommerce_emulator
woocommerce_emulator_factory = emulator_fixtures.woocommerce_emulator_factory

FIXTURES = Path("/work/shared/fixtures/real/woocommerce")
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
MONEY = re.compile(r"^-?\d+\.\d{2}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
TIMEOUT = 5


def _fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def store() -> WooStore:
    return generate_store(240, seed=7, now=NOW)


@pytest.fixture(scope="module")
def emu(store: WooStore) -> Iterator[WooCommerceEmulator]:
    """A shared, read-mostly emulator (tests that mutate use their own)."""
    with WooCommerceEmulator(store) as emulator:
        yield emulator


@pytest.fixture
def http(emu: WooCommerceEmulator) -> Iterator[requests.Session]:
    session = requests.Session()
    session.auth = (emu.consumer_key, emu.consumer_secret)
    yield session
    session.close()


@pytest.fixture
def fresh() -> Iterator[WooCommerceEmulator]:
    """An emulator of its own for tests that mutate data or set faults."""
    with WooCommerceEmulator(generate_store(60, seed=11, now=NOW)) as emulator:
        yield emulator


def _session(emulator: WooCommerceEmulator) -> requests.Session:
    session = requests.Session()
    session.auth = (emulator.consumer_key, emulator.consumer_secret)
    return session


class _Receiver:
    """A webhook receiver: records raw requests, answers 200."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.event = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append((dict(self.headers.items()), body))
                receiver.event.set()
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/woo"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.requests) >= count, f"got {len(self.requests)} deliveries"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    rec = _Receiver()
    yield rec
    rec.close()


def _assert_money_and_dates(obj: Any, path: str = "") -> None:
    """Every ``*total*``/``*tax*``/``amount`` string is 2-decimal money; dates are WC dates."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            where = f"{path}.{key}"
            if key == "id" or (key.endswith("_id") and key not in ("transaction_id", "method_id")):
                assert isinstance(value, int) and not isinstance(value, bool), where
            if key.startswith("date_") and value is not None:
                assert isinstance(value, str) and DATE.match(value), where
                if not key.endswith("_gmt"):
                    assert f"{key}_gmt" in obj, where
            money_keys = {
                "total",
                "subtotal",
                "total_tax",
                "subtotal_tax",
                "amount",
                "discount",
                "discount_total",
                "discount_tax",
                "shipping_total",
                "shipping_tax",
                "cart_tax",
                "tax_total",
                "shipping_tax_total",
            }
            if re.search(r"\.taxes\[\d+\]$", path):
                # Line taxes are stored unrounded by core ("0.9", "1.5181"), as in the fixture.
                if key != "id":
                    assert value == "" or re.match(r"^-?\d+(\.\d{1,4})?$", value), where
            elif key in money_keys:
                assert isinstance(value, str) and MONEY.match(value), (where, value)
            if key == "meta_data":
                for meta in value:
                    assert set(meta) == {"id", "key", "value"}, where
            _assert_money_and_dates(value, where)
    elif isinstance(obj, list):
        for i, item in enumerate(obj):
            _assert_money_and_dates(item, f"{path}[{i}]")


# --------------------------------------------------------------------------- generator
def test_generator_is_deterministic() -> None:
    a = generate_store(120, seed=5, now=NOW)
    b = generate_store(120, seed=5, now=NOW)
    c = generate_store(120, seed=6, now=NOW)
    from loyalty_plugins.testing.woocommerce.render import Renderer

    def dump(s: WooStore) -> bytes:
        r = Renderer(s, "http://shop.test")
        return wp_json([r.order(o) for o in s.orders()] + [r.customer(x) for x in s.customers()])

    assert dump(a) == dump(b)
    assert dump(a) != dump(c)


def test_generator_realistic_mix() -> None:
    shop = generate_store(2000, seed=3, now=NOW)
    orders = shop.orders()
    assert len(orders) == 2000
    statuses = Counter(o.status for o in orders)
    assert statuses["completed"] + statuses["processing"] > 0.75 * len(orders)
    for status in ("cancelled", "failed", "pending", "on-hold", "refunded"):
        assert statuses[status] > 0, status
    guests = [o for o in orders if o.customer_id == 0]
    assert 0.06 < len(guests) / len(orders) < 0.14
    assert all(o.billing.email for o in guests)
    refunded = [o for o in orders if o.refunds]
    assert 0.05 < len(refunded) / len(orders) < 0.11
    assert any(o.status == "refunded" for o in refunded)  # full refunds
    assert any(o.status != "refunded" for o in refunded)  # partial refunds
    assert any(r.line_items for o in refunded for r in o.refunds)  # line-item refunds
    # Pareto-like: the top 10% of buyers place far more than 10% of registered orders.
    per_customer = Counter(o.customer_id for o in orders if o.customer_id)
    top = sum(n for _, n in per_customer.most_common(max(1, len(per_customer) // 10)))
    assert top > 0.3 * sum(per_customer.values())
    customers = shop.customers()
    with_birthday = [c for c in customers if any(m.key == "birthday" for m in c.meta_data)]
    assert 0.6 < len(with_birthday) / len(customers) < 0.8
    for c in with_birthday:
        value = next(m.value for m in c.meta_data if m.key == "birthday")
        datetime.strptime(value, "%Y-%m-%d")
    start = NOW - timedelta(days=365)
    assert all(start <= o.date_created.aware <= NOW for o in orders)
    assert all(isinstance(o.total, Decimal) for o in orders)
    # Order, refund and coupon ids share one increasing sequence, ids grow with time.
    ordered = sorted(orders, key=lambda o: o.id)
    assert all(a.date_created.gmt <= b.date_created.gmt for a, b in itertools.pairwise(ordered))


def test_generator_builds_a_large_store() -> None:
    # Speed belongs in benchmarks/, not in a timed assertion here.
    shop = generate_store(3_000, seed=1, now=NOW)
    assert shop.counts()["orders"] == 3_000


# --------------------------------------------------------------------------- shapes
def test_order_shape_matches_real_fixture(
    emu: WooCommerceEmulator, http: requests.Session, store: WooStore
) -> None:
    real = _fixture("order-retrieve-727.json")
    order_id = next(o.id for o in store.orders() if o.refunds and o.coupon_lines is not None)
    served = http.get(f"{emu.api_url}/orders/{order_id}", timeout=TIMEOUT).json()
    assert set(served) == set(real)
    assert set(served["billing"]) == set(real["billing"])
    assert set(served["shipping"]) == set(real["shipping"])
    assert set(served["line_items"][0]) == set(real["line_items"][0])
    assert set(served["tax_lines"][0]) == set(real["tax_lines"][0])
    if served["shipping_lines"]:
        assert set(served["shipping_lines"][0]) == set(real["shipping_lines"][0])
    assert set(served["_links"]) <= {"self", "collection", "customer"}
    assert isinstance(served["line_items"][0]["price"], int | float)
    assert isinstance(served["prices_include_tax"], bool)
    assert served["number"] == str(served["id"])
    for refund in served["refunds"]:
        assert set(refund) == {"id", "reason", "total"}
        assert refund["total"].startswith("-") and MONEY.match(refund["total"])
    _assert_money_and_dates(served)


def test_refund_shapes_match_real_fixture(
    emu: WooCommerceEmulator, http: requests.Session, store: WooStore
) -> None:
    real = _fixture("order-refunds-list-723.json")
    real_item = real[1]["line_items"][0]
    order = next(o for o in store.orders() if any(r.line_items for r in o.refunds))
    listed = http.get(f"{emu.api_url}/orders/{order.id}/refunds", timeout=TIMEOUT).json()
    assert listed and all(set(r) == set(real[0]) for r in listed)
    with_items = next(r for r in listed if r["line_items"])
    item = with_items["line_items"][0]
    assert set(item) == set(real_item)
    assert item["quantity"] < 0 and item["total"].startswith("-")
    refunded_id = next(m["value"] for m in item["meta_data"] if m["key"] == "_refunded_item_id")
    assert isinstance(refunded_id, str)
    assert int(refunded_id) in {li.id for li in order.line_items}
    assert not with_items["amount"].startswith("-") and MONEY.match(with_items["amount"])
    one = http.get(
        f"{emu.api_url}/orders/{order.id}/refunds/{with_items['id']}", timeout=TIMEOUT
    ).json()
    assert one == with_items
    assert set(one) == set(_fixture("order-refund-retrieve-726.json"))
    everything = http.get(
        f"{emu.api_url}/refunds", params={"per_page": 100, "parent": order.id}, timeout=TIMEOUT
    )
    assert {r["parent_id"] for r in everything.json()} == {order.id}
    assert int(everything.headers["X-WP-Total"]) == len(order.refunds)
    _assert_money_and_dates(listed)


def test_customer_coupon_webhook_shapes(emu: WooCommerceEmulator, http: requests.Session) -> None:
    customers = http.get(f"{emu.api_url}/customers", params={"per_page": 100}, timeout=TIMEOUT)
    real = _fixture("customer-retrieve-25.json")
    assert all(set(c) == set(real) for c in customers.json())
    assert all(c["role"] == "customer" for c in customers.json())
    birthdays = [m for c in customers.json() for m in c["meta_data"] if m["key"] == "birthday"]
    assert birthdays and all(re.match(r"^\d{4}-\d{2}-\d{2}$", m["value"]) for m in birthdays)
    coupons = http.get(f"{emu.api_url}/coupons", timeout=TIMEOUT).json()
    assert coupons and all(set(c) == set(_fixture("coupon-retrieve-719.json")) for c in coupons)
    _assert_money_and_dates(customers.json())
    _assert_money_and_dates(coupons)


def test_products_and_categories(
    emu: WooCommerceEmulator, http: requests.Session, store: WooStore
) -> None:
    categories = http.get(f"{emu.api_url}/products/categories", timeout=TIMEOUT).json()
    names = {c["name"] for c in categories}
    assert {"Cat food", "Dog food", "Toys", "Accessories", "Gift cards"} <= names
    products = http.get(f"{emu.api_url}/products", params={"per_page": 100}, timeout=TIMEOUT).json()
    by_id = {p["id"]: p for p in products}
    for product in products:
        assert all(set(c) == {"id", "name", "slug"} for c in product["categories"])
        assert MONEY.match(product["price"])
    # Every line item's category is discoverable through its product.
    for order in store.orders()[:50]:
        for item in order.line_items:
            assert by_id[item.product_id]["categories"], item.name
    cat_food = next(c["id"] for c in categories if c["name"] == "Cat food")
    only = http.get(
        f"{emu.api_url}/products", params={"category": cat_food}, timeout=TIMEOUT
    ).json()
    assert only and all(p["categories"][0]["name"] == "Cat food" for p in only)
    missing = http.get(f"{emu.api_url}/products/categories/99999", timeout=TIMEOUT)
    assert missing.status_code == 404
    assert missing.json() == {**_fixture("error-woocommerce-rest-term-invalid.json")}


# --------------------------------------------------------------------------- paging & filters
def test_paging_headers_and_links(emu: WooCommerceEmulator, http: requests.Session) -> None:
    first = http.get(f"{emu.api_url}/orders", params={"per_page": 25}, timeout=TIMEOUT)
    assert first.status_code == 200
    total = int(first.headers["X-WP-Total"])
    pages = int(first.headers["X-WP-TotalPages"])
    assert total == 240 and pages == math.ceil(240 / 25)
    assert "prev" not in first.links and "next" in first.links
    seen = [o["id"] for o in first.json()]
    url: str | None = first.links["next"]["url"]
    page = 1
    while url:
        page += 1
        response = http.get(url, timeout=TIMEOUT)
        assert response.links["prev"]["url"].endswith(f"page={page - 1}") or (
            f"page={page - 1}&" in response.links["prev"]["url"]
        )
        seen += [o["id"] for o in response.json()]
        url = response.links.get("next", {}).get("url")
    assert page == pages
    assert len(seen) == len(set(seen)) == total
    # Default order: date desc with ID as tie-breaker.
    listed = http.get(f"{emu.api_url}/orders", params={"per_page": 100}, timeout=TIMEOUT).json()
    keys = [(o["date_created"], o["id"]) for o in listed]
    assert keys == sorted(keys, reverse=True)
    beyond = http.get(f"{emu.api_url}/orders", params={"page": 99}, timeout=TIMEOUT)
    assert beyond.status_code == 200 and beyond.json() == []


@pytest.mark.parametrize("per_page", ["101", "0", "-1", "abc"])
def test_per_page_out_of_bounds_is_rejected(
    emu: WooCommerceEmulator, http: requests.Session, per_page: str
) -> None:
    response = http.get(f"{emu.api_url}/orders", params={"per_page": per_page}, timeout=TIMEOUT)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "rest_invalid_param"
    assert body["data"]["status"] == 400
    assert "per_page" in body["data"]["params"]


def test_modified_after_polling(emu: WooCommerceEmulator, http: requests.Session) -> None:
    checkpoint = "2025-03-01T00:00:00"
    params: dict[str, str | int] = {
        "modified_after": checkpoint,
        "dates_are_gmt": "true",
        "orderby": "modified",
        "order": "asc",
        "per_page": 100,
    }
    response = http.get(f"{emu.api_url}/orders", params=params, timeout=TIMEOUT)
    rows = response.json()
    assert rows and all(o["date_modified_gmt"] > checkpoint for o in rows)
    keys = [(o["date_modified_gmt"], o["id"]) for o in rows]
    assert keys == sorted(keys)
    everything = http.get(
        f"{emu.api_url}/orders",
        params={"per_page": "100", "orderby": "id", "order": "asc"},
        timeout=TIMEOUT,
    )
    assert everything.json()[0]["id"] < everything.json()[-1]["id"]
    # Site-local comparison when dates_are_gmt is false (site is UTC+1).
    local = http.get(
        f"{emu.api_url}/orders",
        params={
            "modified_after": checkpoint,
            "per_page": "100",
            "orderby": "modified",
            "order": "asc",
        },
        timeout=TIMEOUT,
    ).json()
    assert all(o["date_modified"] > checkpoint for o in local)
    after = http.get(
        f"{emu.api_url}/orders",
        params={"after": "2025-05-01T00:00:00Z", "per_page": "100"},
        timeout=TIMEOUT,
    ).json()
    assert after and all(o["date_created_gmt"] > "2025-05-01T00:00:00" for o in after)
    bad = http.get(f"{emu.api_url}/orders", params={"after": "yesterday"}, timeout=TIMEOUT)
    assert bad.status_code == 400 and bad.json()["code"] == "rest_invalid_param"


def test_status_and_customer_filters(
    emu: WooCommerceEmulator, http: requests.Session, store: WooStore
) -> None:
    response = http.get(
        f"{emu.api_url}/orders",
        params={"status": "cancelled,failed", "per_page": "100"},
        timeout=TIMEOUT,
    )
    assert {o["status"] for o in response.json()} <= {"cancelled", "failed"}
    expected = sum(1 for o in store.orders() if o.status in ("cancelled", "failed"))
    assert int(response.headers["X-WP-Total"]) == expected
    # PHP semantics: a repeated plain key keeps only the last value.
    repeated = http.get(
        f"{emu.api_url}/orders?status=cancelled&status=failed&per_page=100", timeout=TIMEOUT
    ).json()
    assert {o["status"] for o in repeated} == {"failed"}
    buyer = Counter(o.customer_id for o in store.orders() if o.customer_id).most_common(1)[0]
    mine = http.get(
        f"{emu.api_url}/orders", params={"customer": buyer[0], "per_page": 100}, timeout=TIMEOUT
    )
    assert int(mine.headers["X-WP-Total"]) == buyer[1]
    assert {o["customer_id"] for o in mine.json()} == {buyer[0]}
    invalid = http.get(f"{emu.api_url}/orders", params={"status": "shipped"}, timeout=TIMEOUT)
    assert invalid.status_code == 400


# --------------------------------------------------------------------------- auth
def test_woocommerce_api_client_signs_with_oauth1(emu: WooCommerceEmulator) -> None:
    api = API(
        url=emu.url,
        consumer_key=emu.consumer_key,
        consumer_secret=emu.consumer_secret,
        version="wc/v3",
        timeout=5,
    )
    response = api.get("orders", params={"per_page": 5, "page": 2})
    assert response.status_code == 200, response.text
    assert "oauth_signature=" in response.url  # http -> OAuth 1.0a, not Basic auth
    assert len(response.json()) == 5
    assert response.headers["X-WP-Total"] == "240"
    one = api.get(f"orders/{response.json()[0]['id']}")
    assert one.status_code == 200
    # Values that need encoding (":" in dates, booleans) are signed the way core checks.
    polled = api.get(
        "orders",
        params={
            "modified_after": "2025-03-01T00:00:00",
            "dates_are_gmt": True,
            "orderby": "modified",
            "order": "asc",
            "per_page": 100,
            "status": "any",
        },
    )
    assert polled.status_code == 200, polled.text
    assert all(o["date_modified_gmt"] > "2025-03-01T00:00:00" for o in polled.json())
    wrong = API(
        url=emu.url,
        consumer_key=emu.consumer_key,
        consumer_secret="cs_wrong",
        version="wc/v3",
        timeout=5,
    ).get("orders")
    assert wrong.status_code == 401
    assert wrong.json()["message"] == "Invalid signature - provided signature does not match."
    # Replaying a signed URL reuses its nonce: core refuses it.
    replay = requests.get(response.url, timeout=TIMEOUT)
    assert replay.status_code == 401
    assert "nonce" in replay.json()["message"]


def test_woocommerce_api_client_writes(fresh: WooCommerceEmulator) -> None:
    api = fresh.api_client()
    customer = fresh.store.customers()[0]
    response = api.put(
        f"customers/{customer.id}", {"meta_data": [{"key": "loyalty_points", "value": "150"}]}
    )
    assert response.status_code == 200, response.text
    meta = {m["key"]: m["value"] for m in response.json()["meta_data"]}
    assert meta["loyalty_points"] == "150"
    created = api.post(
        "coupons", {"code": "LOYALTY-5", "amount": "5.00", "discount_type": "fixed_cart"}
    )
    assert created.status_code == 201, created.text
    assert created.json()["code"] == "loyalty-5"


def test_basic_and_query_string_auth(emu: WooCommerceEmulator) -> None:
    ok = requests.get(
        f"{emu.api_url}/orders", auth=(emu.consumer_key, emu.consumer_secret), timeout=TIMEOUT
    )
    assert ok.status_code == 200
    query = requests.get(
        f"{emu.api_url}/orders",
        params={"consumer_key": emu.consumer_key, "consumer_secret": emu.consumer_secret},
        timeout=TIMEOUT,
    )
    assert query.status_code == 200


def test_auth_failures(emu: WooCommerceEmulator) -> None:
    anonymous = requests.get(f"{emu.api_url}/orders", timeout=TIMEOUT)
    assert anonymous.status_code == 401
    assert anonymous.json() == {
        "code": "woocommerce_rest_cannot_view",
        "message": "Sorry, you cannot list resources.",
        "data": {"status": 401},
    }
    unknown_key = requests.get(
        f"{emu.api_url}/orders", auth=("ck_nobody", "cs_nothing"), timeout=TIMEOUT
    )
    assert unknown_key.status_code == 401
    assert unknown_key.json()["code"] == "woocommerce_rest_cannot_view"
    wrong_secret = requests.get(
        f"{emu.api_url}/orders", auth=(emu.consumer_key, "cs_bad"), timeout=TIMEOUT
    )
    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["message"] == "Consumer secret is invalid."
    assert "WWW-Authenticate" in wrong_secret.headers


def test_read_only_key_cannot_write() -> None:
    shop = generate_store(20, seed=2, now=NOW)
    with WooCommerceEmulator(shop, permissions="read") as emulator:
        session = _session(emulator)
        assert session.get(f"{emulator.api_url}/coupons", timeout=TIMEOUT).status_code == 200
        denied = session.post(
            f"{emulator.api_url}/coupons", json={"code": "x", "amount": "1"}, timeout=TIMEOUT
        )
        assert denied.status_code == 401
        assert "write permissions" in denied.json()["message"]


def test_unknown_route_is_rest_no_route(emu: WooCommerceEmulator, http: requests.Session) -> None:
    response = http.get(f"{emu.api_url}/no-such-thing", timeout=TIMEOUT)
    assert response.status_code == 404
    assert response.json() == _fixture("error-wp-rest-no-route.json")
    wrong_method = http.delete(f"{emu.api_url}/orders", timeout=TIMEOUT)
    assert wrong_method.status_code == 404


# --------------------------------------------------------------------------- writes
def test_customer_put_merges_meta_by_key(fresh: WooCommerceEmulator) -> None:
    session = _session(fresh)
    customer = next(
        c for c in fresh.store.customers() if any(m.key == "birthday" for m in c.meta_data)
    )
    url = f"{fresh.api_url}/customers/{customer.id}"
    before = session.get(url, timeout=TIMEOUT).json()
    first = session.put(
        url, json={"meta_data": [{"key": "loyalty_points", "value": 120}]}, timeout=TIMEOUT
    ).json()
    meta = {m["key"]: m["value"] for m in first["meta_data"]}
    assert meta["loyalty_points"] == "120"  # WordPress stores meta as text
    assert meta["birthday"] == next(
        m["value"] for m in before["meta_data"] if m["key"] == "birthday"
    )
    assert first["date_modified_gmt"] >= before["date_modified_gmt"]
    second = session.put(
        url, json={"meta_data": [{"key": "loyalty_points", "value": "80"}]}, timeout=TIMEOUT
    ).json()
    points = [m for m in second["meta_data"] if m["key"] == "loyalty_points"]
    assert len(points) == 1 and points[0]["value"] == "80"
    assert points[0]["id"] == next(
        m["id"] for m in first["meta_data"] if m["key"] == "loyalty_points"
    )
    deleted = session.put(
        url, json={"meta_data": [{"key": "loyalty_points", "value": None}]}, timeout=TIMEOUT
    ).json()
    assert all(m["key"] != "loyalty_points" for m in deleted["meta_data"])
    missing = session.get(f"{fresh.api_url}/customers/999999", timeout=TIMEOUT)
    assert missing.status_code == 404 and missing.json()["code"] == "woocommerce_rest_invalid_id"


def test_order_update_and_refund_show_up_in_polling(fresh: WooCommerceEmulator) -> None:
    session = _session(fresh)
    order = next(
        o for o in fresh.store.orders() if o.status == "processing" or o.status == "completed"
    )
    checkpoint = fresh.store.now().replace(tzinfo=None) - timedelta(seconds=1)
    updated = session.put(
        f"{fresh.api_url}/orders/{order.id}", json={"status": "completed"}, timeout=TIMEOUT
    ).json()
    assert updated["status"] == "completed" and updated["date_completed_gmt"]
    refund = session.post(
        f"{fresh.api_url}/orders/{order.id}/refunds",
        json={"amount": "1.00", "reason": "Goodwill", "api_refund": False},
        timeout=TIMEOUT,
    )
    assert refund.status_code == 201, refund.text
    assert refund.json()["amount"] == "1.00"
    polled = session.get(
        f"{fresh.api_url}/orders",
        params={
            "modified_after": checkpoint.isoformat(timespec="seconds"),
            "dates_are_gmt": "true",
            "orderby": "modified",
            "order": "asc",
        },
        timeout=TIMEOUT,
    ).json()
    assert [o["id"] for o in polled] == [order.id]
    assert polled[0]["refunds"][0] == {
        "id": refund.json()["id"],
        "reason": "Goodwill",
        "total": "-1.00",
    }
    too_much = session.post(
        f"{fresh.api_url}/orders/{order.id}/refunds", json={"amount": "99999.00"}, timeout=TIMEOUT
    )
    assert too_much.status_code >= 400


def test_coupons_create_duplicate_and_validation(fresh: WooCommerceEmulator) -> None:
    session = _session(fresh)
    url = f"{fresh.api_url}/coupons"
    created = session.post(
        url,
        json={
            "code": "Points-10",
            "amount": "10.00",
            "discount_type": "fixed_cart",
            "usage_limit": 1,
            "email_restrictions": ["Anna@Example.com"],
        },
        timeout=TIMEOUT,
    )
    assert created.status_code == 201
    coupon = created.json()
    assert coupon["code"] == "points-10" and coupon["amount"] == "10.00"
    assert coupon["email_restrictions"] == ["anna@example.com"]
    duplicate = session.post(url, json={"code": "POINTS-10", "amount": "5"}, timeout=TIMEOUT)
    assert duplicate.status_code == 400
    assert duplicate.json()["code"] == "woocommerce_rest_coupon_code_already_exists"
    numeric = session.post(url, json={"code": "num", "amount": 5}, timeout=TIMEOUT)
    assert numeric.status_code == 400 and numeric.json()["code"] == "rest_invalid_param"
    found = session.get(url, params={"code": "points-10"}, timeout=TIMEOUT).json()
    assert [c["id"] for c in found] == [coupon["id"]]
    updated = session.put(f"{url}/{coupon['id']}", json={"amount": "12.50"}, timeout=TIMEOUT).json()
    assert updated["amount"] == "12.50"
    trashed = session.delete(f"{url}/{coupon['id']}", timeout=TIMEOUT)
    assert trashed.status_code == 200
    assert session.get(url, params={"code": "points-10"}, timeout=TIMEOUT).json() == []


def test_coupon_batch_and_limit(fresh: WooCommerceEmulator) -> None:
    session = _session(fresh)
    url = f"{fresh.api_url}/coupons/batch"
    too_many = {
        "create": [{"code": f"c{i}", "amount": "1"} for i in range(60)],
        "delete": list(range(41)),
    }
    response = session.post(url, json=too_many, timeout=TIMEOUT)
    assert response.status_code == 413
    assert response.json() == {
        "code": "woocommerce_rest_request_entity_too_large",
        "message": "Unable to accept more than 100 items for this request.",
        "data": {"status": 413},
    }
    existing = fresh.store.coupons()[0]
    batch = {
        "create": [{"code": "batch-a", "amount": "3.00"}, {"code": "batch-a", "amount": "4"}],
        "update": [{"id": existing.id, "amount": "7.00"}, {"id": 999999, "amount": "1.00"}],
        "delete": [999998],
    }
    result = session.post(url, json=batch, timeout=TIMEOUT).json()
    assert set(result) == {"create", "update", "delete"}
    assert result["create"][0]["code"] == "batch-a"
    assert result["create"][1]["error"]["code"] == "woocommerce_rest_coupon_code_already_exists"
    assert result["update"][0]["amount"] == "7.00"
    assert result["update"][1]["id"] == 999999 and "error" in result["update"][1]
    assert result["delete"][0]["error"]["data"]["status"] == 404


def test_redeem_coupon(fresh: WooCommerceEmulator) -> None:
    store = fresh.store
    coupon = store.create_coupon({"code": "once", "amount": "5", "usage_limit": 2})
    modified = coupon.date_modified
    customer = store.customers()[0]
    data = fresh.redeem_coupon("ONCE", customer.email)
    assert data["usage_count"] == 1 and data["used_by"] == [str(customer.id)]
    data = fresh.redeem_coupon("once", "guest@example.net")
    assert data["used_by"] == [str(customer.id), "guest@example.net"]
    assert coupon.date_modified == modified  # core writes usage meta directly
    with pytest.raises(CouponNotUsableError):
        fresh.redeem_coupon("once", "third@example.net")
    served = _session(fresh).get(f"{fresh.api_url}/coupons/{coupon.id}", timeout=TIMEOUT).json()
    assert served["usage_count"] == 2


def test_concurrent_meta_writes_are_safe(fresh: WooCommerceEmulator) -> None:
    customer = fresh.store.customers()[1]
    url = f"{fresh.api_url}/customers/{customer.id}"
    errors: list[int] = []

    def writer(n: int) -> None:
        with _session(fresh) as session:
            for i in range(10):
                r = session.put(
                    url,
                    json={"meta_data": [{"key": "points", "value": str(n * i)}]},
                    timeout=TIMEOUT,
                )
                if r.status_code != 200:
                    errors.append(r.status_code)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(1 for m in customer.meta_data if m.key == "points") == 1


# --------------------------------------------------------------------------- faults
def test_throttle_answers_429_with_retry_after(fresh: WooCommerceEmulator) -> None:
    session = _session(fresh)
    fresh.faults.configure(throttle_every=2, retry_after=3)
    statuses = [session.get(f"{fresh.api_url}/orders", timeout=TIMEOUT) for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 429, 200, 429]
    assert statuses[1].headers["Retry-After"] == "3"
    fresh.faults.reset()
    fresh.faults.enqueue(status=429, retry_after=7)
    forced = session.get(f"{fresh.api_url}/orders", timeout=TIMEOUT)
    assert forced.status_code == 429 and forced.headers["Retry-After"] == "7"


def test_rate_limit_token_bucket() -> None:
    faults = EmulatorFaults(rate_limit=1, retry_after=1)
    with WooCommerceEmulator(generate_store(10, seed=1, now=NOW), faults=faults) as emulator:
        session = _session(emulator)
        codes = [
            session.get(f"{emulator.api_url}/coupons", timeout=TIMEOUT).status_code
            for _ in range(6)
        ]
        assert codes.count(429) >= 2 and codes[0] == 200


def test_enqueued_503_then_recovery(fresh: WooCommerceEmulator) -> None:
    session = _session(fresh)
    fresh.faults.enqueue(status=503, count=3)
    codes = [session.get(f"{fresh.api_url}/orders", timeout=TIMEOUT) for _ in range(4)]
    assert [r.status_code for r in codes] == [503, 503, 503, 200]
    assert codes[0].headers["Content-Type"].startswith("text/html")  # a proxy page, no JSON
    fresh.faults.enqueue(status=500, path="/customers")
    assert session.get(f"{fresh.api_url}/orders", timeout=TIMEOUT).status_code == 200
    fatal = session.get(f"{fresh.api_url}/customers", timeout=TIMEOUT)
    assert fatal.status_code == 500 and fatal.json()["code"] == "internal_server_error"


def test_truncated_json_body(fresh: WooCommerceEmulator) -> None:
    session = _session(fresh)
    fresh.faults.enqueue(status=200)
    response = session.get(f"{fresh.api_url}/orders", timeout=TIMEOUT)
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == len(response.content)
    with pytest.raises(ValueError):
        response.json()
    fresh.faults.configure(truncate_rate=1.0, truncate_mode="connection")
    with pytest.raises(requests.exceptions.RequestException):
        session.get(f"{fresh.api_url}/orders", timeout=TIMEOUT).json()
    fresh.faults.reset()
    assert session.get(f"{fresh.api_url}/orders", timeout=TIMEOUT).json()


def test_error_rate_is_seeded() -> None:
    def run() -> list[int]:
        faults = EmulatorFaults(error_rate=0.4, seed=42)
        with WooCommerceEmulator(generate_store(10, seed=1, now=NOW), faults=faults) as emulator:
            session = _session(emulator)
            return [
                session.get(f"{emulator.api_url}/coupons", timeout=TIMEOUT).status_code
                for _ in range(15)
            ]

    first = run()
    assert first == run()
    assert any(code >= 500 for code in first) and 200 in first


def test_latency_and_request_counter(fresh: WooCommerceEmulator) -> None:
    session = _session(fresh)
    fresh.reset_stats()
    fresh.faults.latency = 0.15
    started = time.perf_counter()
    session.get(f"{fresh.api_url}/orders", timeout=TIMEOUT)
    assert time.perf_counter() - started >= 0.15
    fresh.faults.latency = 0.0
    for _ in range(3):
        session.get(f"{fresh.api_url}/customers", timeout=TIMEOUT)
    session.get(f"{fresh.api_url}/nope", timeout=TIMEOUT)
    stats = fresh.stats
    assert stats.total == fresh.request_count == 5
    assert fresh.requests_to("customers") == 3
    assert stats.by_route["GET customers"] == 3
    assert stats.by_status == {200: 4, 404: 1}


# --------------------------------------------------------------------------- webhooks
def test_signature_matches_published_vectors() -> None:
    vectors = _fixture("webhook-signature-vectors.json")["vectors"]
    for vector in vectors:
        assert (
            webhook_signature(vector["body"].encode(), vector["secret"])
            == (vector["expected_header"])
        )
    for delivery in _fixture("legacy-v3-webhook-deliveries-535.json")["webhook_deliveries"]:
        expected = delivery["request_headers"]["X-WC-Webhook-Signature"]
        body = delivery["request_body"].encode()
        assert webhook_signature(body, "my-super-secret-private-key") == expected


def test_deliver_webhook_signed_with_duplicates(
    fresh: WooCommerceEmulator, receiver: _Receiver
) -> None:
    order = fresh.store.orders()[0]
    results = fresh.deliver_webhook(
        receiver.url, "order.updated", order.id, "s3cret", duplicate=1, webhook_id=42
    )
    assert [r.status_code for r in results] == [200, 200] and all(r.ok for r in results)
    assert len(receiver.requests) == 2
    (h1, b1), (h2, b2) = receiver.requests
    assert b1 == b2 and h1["X-WC-Webhook-Delivery-ID"] == h2["X-WC-Webhook-Delivery-ID"]
    expected = base64.b64encode(hmac.new(b"s3cret", b1, hashlib.sha256).digest()).decode()
    assert h1["X-WC-Webhook-Signature"] == expected
    assert h1["X-WC-Webhook-Topic"] == "order.updated"
    assert h1["X-WC-Webhook-Resource"] == "order" and h1["X-WC-Webhook-Event"] == "updated"
    assert h1["X-WC-Webhook-ID"] == "42"
    assert h1["X-WC-Webhook-Source"] == fresh.url + "/"
    assert re.match(r"^WooCommerce/\S+ Hookshot \(WordPress/\S+\)$", h1["User-Agent"])
    assert h1["Content-Type"] == "application/json"
    assert b"\\/" in b1  # wp_json_encode escapes slashes: verify on the raw bytes
    served = _session(fresh).get(f"{fresh.api_url}/orders/{order.id}", timeout=TIMEOUT).json()
    assert json.loads(b1) == served
    deleted = fresh.deliver_webhook(receiver.url, "order.deleted", order.id, "s3cret")
    assert deleted[0].ok and json.loads(receiver.requests[-1][1]) == {"id": order.id}


def test_out_of_order_deliveries_and_ping(fresh: WooCommerceEmulator, receiver: _Receiver) -> None:
    orders = fresh.store.orders()[:6]
    deliveries = [
        fresh.build_webhook_delivery(receiver.url, "order.updated", o.id, "k") for o in orders
    ]
    fresh.send_webhook_deliveries(deliveries, shuffle=True, seed=3)
    arrived = [json.loads(body)["id"] for _, body in receiver.requests]
    assert sorted(arrived) == sorted(o.id for o in orders)
    assert arrived != [o.id for o in orders]
    ping = fresh.deliver_ping(receiver.url, webhook_id=9)
    assert ping.ok
    headers, body = receiver.requests[-1]
    assert parse_qs(body.decode()) == {"webhook_id": ["9"]}
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert not any(name.lower().startswith("x-wc-webhook") for name in headers)


def test_registered_webhook_fires_on_change(receiver: _Receiver) -> None:
    shop = generate_store(30, seed=4, now=NOW)
    with WooCommerceEmulator(shop, auto_webhooks=True) as emulator:
        session = _session(emulator)
        created = session.post(
            f"{emulator.api_url}/webhooks",
            json={
                "name": "Loyalty",
                "topic": "order.updated",
                "delivery_url": receiver.url,
                "secret": "topsecret",
            },
            timeout=TIMEOUT,
        )
        assert created.status_code == 201
        assert set(created.json()) == set(_fixture("webhook-retrieve-142.json"))
        listed = session.get(f"{emulator.api_url}/webhooks", timeout=TIMEOUT).json()
        assert [w["id"] for w in listed] == [created.json()["id"]]
        order = shop.orders()[-1]
        session.put(
            f"{emulator.api_url}/orders/{order.id}",
            json={"meta_data": [{"key": "note", "value": "x"}]},
            timeout=TIMEOUT,
        )
        receiver.wait_for(1)
        headers, body = receiver.requests[0]
        assert headers["X-WC-Webhook-Signature"] == webhook_signature(body, "topsecret")
        assert json.loads(body)["id"] == order.id
        no_trash = session.delete(
            f"{emulator.api_url}/webhooks/{created.json()['id']}", timeout=TIMEOUT
        )
        assert no_trash.status_code == 501
        gone = session.delete(
            f"{emulator.api_url}/webhooks/{created.json()['id']}",
            params={"force": "true"},
            timeout=TIMEOUT,
        )
        assert gone.status_code == 200
        assert session.get(f"{emulator.api_url}/webhooks", timeout=TIMEOUT).json() == []


# --------------------------------------------------------------------------- lifecycle
def test_packaged_fixture(woocommerce_emulator: WooCommerceEmulator) -> None:
    response = requests.get(
        f"{woocommerce_emulator.api_url}/orders",
        auth=(woocommerce_emulator.consumer_key, woocommerce_emulator.consumer_secret),
        timeout=TIMEOUT,
    )
    assert response.status_code == 200 and response.headers["X-WP-Total"] == "200"


def test_stop_closes_the_port() -> None:
    emulator = WooCommerceEmulator(generate_store(5, seed=1, now=NOW)).start()
    session = _session(emulator)
    url = f"{emulator.api_url}/orders"
    assert session.get(url, timeout=TIMEOUT).status_code == 200  # keep-alive connection open
    emulator.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        session.get(url, timeout=TIMEOUT)


def test_run_emulator_serves_until_stopped() -> None:
    stop = threading.Event()
    ready: list[WooCommerceEmulator] = []
    lines: list[str] = []
    thread = threading.Thread(
        target=run_emulator,
        kwargs={
            "orders": 30,
            "port": 0,
            "seed": 2,
            "now": NOW,
            "stop": stop,
            "on_ready": ready.append,
            "echo": lines.append,
        },
        daemon=True,
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not ready and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ready, "emulator did not start"
    emulator = ready[0]
    response = requests.get(
        f"{emulator.api_url}/orders",
        auth=(emulator.consumer_key, emulator.consumer_secret),
        timeout=TIMEOUT,
    )
    assert response.headers["X-WP-Total"] == "30"
    assert any(emulator.url in line for line in lines)
    assert any(emulator.consumer_secret in line for line in lines)
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert not emulator.running
