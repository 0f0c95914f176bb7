"""WooCommerce JSON -> core snapshots, against the real payloads in shared/fixtures/real."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from loyalty_plugins.domain.money import Money
from loyalty_plugins.domain.orders import (
    CustomerRef,
    OrderSnapshot,
    PaymentState,
    RefundLine,
    RefundSnapshot,
)
from loyalty_plugins.domain.rewards import RewardKind
from loyalty_plugins.errors import InvalidAmount, MappingError, UnknownCurrency, ValidationError
from loyalty_woocommerce.mapping import (
    PLATFORM,
    STATUS_MAP,
    coupon_payload,
    coupon_usage,
    customer_birthday,
    customer_meta_update,
    map_customer,
    map_embedded_refunds,
    map_order,
    map_refund,
    parse_wc_datetime,
)

FIXTURES = (
    Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "real" / "woocommerce"
)
STORE = "shop.example"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def all_orders() -> list[tuple[str, dict[str, Any]]]:
    """Every order resource in the fixtures, labelled ``file[#index]``."""
    found: list[tuple[str, dict[str, Any]]] = []
    for i, order in enumerate(load("orders-list.json")):
        found.append((f"orders-list.json[{i}]", order))
    for name in ("order-retrieve-727.json", "order-723-with-refunds.json", "order-delete-727.json"):
        found.append((name, load(name)))
    for action, orders in load("orders-batch-response.json").items():
        for i, order in enumerate(orders):
            found.append((f"orders-batch-response.json:{action}[{i}]", order))
    return found


ORDERS = all_orders()
ORDER_IDS = [label for label, _ in ORDERS]


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def walk(value: object) -> Iterator[object]:
    """Every value reachable from a snapshot (dataclass fields, tuples, lists)."""
    yield value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from walk(getattr(value, f.name))
    elif isinstance(value, tuple | list):
        for item in value:
            yield from walk(item)


def assert_clean(snapshot: object) -> None:
    """No float anywhere, money is Decimal, datetimes are aware UTC."""
    for value in walk(snapshot):
        assert not isinstance(value, float), snapshot
        if isinstance(value, Money):
            assert isinstance(value.amount, Decimal)
        if isinstance(value, datetime):
            assert value.utcoffset() == timedelta(0)


# --------------------------------------------------------------------------- statuses


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("processing", PaymentState.PAID),
        ("completed", PaymentState.PAID),
        ("pending", PaymentState.NOT_YET),
        ("on-hold", PaymentState.NOT_YET),
        ("checkout-draft", PaymentState.NOT_YET),
        ("draft", PaymentState.NOT_YET),
        ("auto-draft", PaymentState.NOT_YET),
        ("new", PaymentState.NOT_YET),
        ("cancelled", PaymentState.VOID),
        ("refunded", PaymentState.VOID),
        ("failed", PaymentState.VOID),
        ("trash", PaymentState.VOID),
    ],
)
def test_status_maps_to_payment_state(status: str, state: PaymentState) -> None:
    assert STATUS_MAP[status] is state
    order = dict(load("order-retrieve-727.json"), status=status)
    snapshot = map_order(order, STORE)
    assert snapshot is not None
    assert snapshot.state is state
    assert snapshot.raw_status == status


def test_status_map_is_read_only() -> None:
    with pytest.raises(TypeError):
        STATUS_MAP["shipped"] = PaymentState.PAID  # type: ignore[index]


def test_unknown_status_is_named() -> None:
    order = dict(load("order-retrieve-727.json"), status="shipped")
    with pytest.raises(MappingError, match="shipped") as info:
        map_order(order, STORE)
    assert info.value.path == "status"


def test_wc_prefixed_status_is_tolerated_and_kept_raw() -> None:
    snapshot = map_order(dict(load("order-retrieve-727.json"), status="wc-completed"), STORE)
    assert snapshot is not None
    assert snapshot.state is PaymentState.PAID
    assert snapshot.raw_status == "wc-completed"


# --------------------------------------------------------------------------- dates


def test_parse_gmt_is_utc() -> None:
    parsed = parse_wc_datetime("2017-03-22T19:28:08", "2017-03-22T16:28:08")
    assert parsed == utc(2017, 3, 22, 19, 28, 8)
    assert parsed is not None and parsed.tzinfo is UTC


def test_parse_falls_back_to_local_read_as_utc() -> None:
    assert parse_wc_datetime(None, "2017-03-22T16:28:08") == utc(2017, 3, 22, 16, 28, 8)
    assert parse_wc_datetime("", "2017-03-22T16:28:08") == utc(2017, 3, 22, 16, 28, 8)


@pytest.mark.parametrize(("gmt", "local"), [(None, None), ("", ""), (None, ""), ("", None)])
def test_parse_blank_is_none(gmt: str | None, local: str | None) -> None:
    assert parse_wc_datetime(gmt, local) is None


def test_parse_explicit_offset_is_converted() -> None:
    parsed = parse_wc_datetime("2017-03-22T16:28:08-03:00")
    assert parsed == utc(2017, 3, 22, 19, 28, 8)
    assert parsed is not None and parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("bad", ["yesterday", "2017-13-01T00:00:00", 1490210888, True, [], {}])
def test_parse_garbage_is_mapping_error_naming_the_field(bad: object) -> None:
    with pytest.raises(MappingError) as info:
        parse_wc_datetime(bad, field="date_paid_gmt")
    assert info.value.path == "date_paid_gmt"


def test_parse_garbage_local_names_local_field() -> None:
    with pytest.raises(MappingError) as info:
        parse_wc_datetime(None, "nope", field="date_paid_gmt", local_field="date_paid")
    assert info.value.path == "date_paid"


# --------------------------------------------------------------------------- orders


@pytest.mark.parametrize(("label", "order"), ORDERS, ids=ORDER_IDS)
def test_every_fixture_order_maps(label: str, order: dict[str, Any]) -> None:
    snapshot = map_order(order, STORE)
    assert isinstance(snapshot, OrderSnapshot), label
    assert_clean(snapshot)
    assert snapshot.platform == PLATFORM == "woocommerce"
    assert snapshot.store == STORE
    assert snapshot.order_id == str(order["id"])
    assert snapshot.key == f"woocommerce:{STORE}:{order['id']}"
    assert snapshot.currency == "USD"
    assert snapshot.total.amount == Decimal(order["total"])
    assert snapshot.state is STATUS_MAP[order["status"]]
    assert snapshot.raw_status == order["status"]
    assert [line.line_id for line in snapshot.lines] == [
        str(li["id"]) for li in order["line_items"]
    ]
    assert [line.total.amount for line in snapshot.lines] == [
        Decimal(li["total"]) for li in order["line_items"]
    ]
    assert snapshot.placed_at == datetime.fromisoformat(order["date_created_gmt"]).replace(
        tzinfo=UTC
    )
    assert snapshot.modified_at == datetime.fromisoformat(order["date_modified_gmt"]).replace(
        tzinfo=UTC
    )
    # In these payloads (no fees): lines (after discounts) + shipping + tax == order total.
    assert snapshot.shipping_total is not None and snapshot.tax_total is not None
    parts = sum((line.total for line in snapshot.lines), snapshot.shipping_total)
    assert parts + snapshot.tax_total == snapshot.total


def test_guest_order_727() -> None:
    snapshot = map_order(load("order-retrieve-727.json"), STORE, categories={"93": ("Music",)})
    assert snapshot is not None
    assert snapshot.order_id == "727"
    assert snapshot.number == "727"
    assert snapshot.state is PaymentState.PAID
    assert snapshot.customer == CustomerRef(
        platform="woocommerce",
        store=STORE,
        external_id=None,
        email="john.doe@example.com",
        first_name="John",
        last_name="Doe",
    )
    assert snapshot.total == Money(Decimal("29.35"), "USD")
    assert snapshot.shipping_total == Money(Decimal("10.00"), "USD")
    assert snapshot.tax_total == Money(Decimal("1.35"), "USD")
    assert snapshot.placed_at == utc(2017, 3, 22, 19, 28, 2)
    assert snapshot.paid_at == utc(2017, 3, 22, 19, 28, 8)
    assert snapshot.modified_at == utc(2017, 3, 22, 19, 28, 8)
    assert snapshot.coupon_codes == ()
    first, second = snapshot.lines
    assert (first.line_id, first.product_id, first.quantity) == ("315", "93", 2)
    assert first.total == Money(Decimal("6.00"), "USD")
    assert first.categories == ("Music",)
    assert (second.line_id, second.product_id, second.sku) == ("316", "22", "Bar3")
    assert second.name == "Ship Your Idea \u2013 Color: Black, Size: M Test"
    assert second.categories == ()
    assert ("created_via", "rest-api") in snapshot.attributes


def test_registered_order_723() -> None:
    snapshot = map_order(load("order-723-with-refunds.json"), STORE)
    assert snapshot is not None
    assert snapshot.customer.external_id == "26"
    assert snapshot.customer.email == "joao.silva@example.com"
    assert (snapshot.customer.first_name, snapshot.customer.last_name) == ("João", "Silva")
    assert snapshot.state is PaymentState.PAID
    assert snapshot.raw_status == "completed"
    assert snapshot.total.amount == Decimal("39.00")
    assert snapshot.paid_at is None  # date_paid_gmt is null in this payload
    assert snapshot.effective_paid_at == utc(2017, 3, 21, 19, 16, 0)
    assert [(li.line_id, li.product_id, li.total.amount) for li in snapshot.lines] == [
        ("311", "87", Decimal("9.00")),
        ("313", "34", Decimal("20.00")),
    ]


def test_deleted_order_727_is_completed() -> None:
    snapshot = map_order(load("order-delete-727.json"), STORE)
    assert snapshot is not None
    assert snapshot.state is PaymentState.PAID
    assert snapshot.raw_status == "completed"
    assert snapshot.modified_at == utc(2017, 3, 22, 19, 30, 35)


def test_batch_created_orders() -> None:
    created = load("orders-batch-response.json")["create"]
    pending, processing = (map_order(order, STORE) for order in created)
    assert pending is not None and processing is not None
    assert (pending.order_id, pending.state, pending.paid_at) == ("728", PaymentState.NOT_YET, None)
    assert pending.total.amount == Decimal("62.25")
    assert (processing.order_id, processing.state) == ("729", PaymentState.PAID)
    assert processing.paid_at == utc(2017, 3, 22, 19, 33, 47)
    assert processing.total.amount == Decimal("54.40")


def test_guest_policy_skip() -> None:
    assert map_order(load("order-retrieve-727.json"), STORE, guest_policy="skip") is None
    registered = map_order(load("order-723-with-refunds.json"), STORE, guest_policy="skip")
    assert registered is not None and registered.customer.external_id == "26"


def test_unknown_guest_policy_is_refused() -> None:
    with pytest.raises(ValidationError):
        map_order(load("order-retrieve-727.json"), STORE, guest_policy="maybe")  # type: ignore[arg-type]


def test_guest_without_email_is_mapping_error() -> None:
    order = load("order-retrieve-727.json")
    order["billing"]["email"] = ""
    with pytest.raises(MappingError) as info:
        map_order(order, STORE)
    assert info.value.path == "billing.email"


def test_registered_customer_without_email_is_fine() -> None:
    order = load("order-723-with-refunds.json")
    order["billing"] = None
    snapshot = map_order(order, STORE)
    assert snapshot is not None
    assert snapshot.customer.external_id == "26"
    assert snapshot.customer.email is None


def test_categories_by_product_then_variation() -> None:
    order = load("order-retrieve-727.json")
    snapshot = map_order(order, STORE, categories={"23": ("Clothing", "Shirts")})
    assert snapshot is not None
    assert snapshot.lines[1].categories == ("Clothing", "Shirts")  # variation 23 of product 22
    snapshot = map_order(order, STORE, categories={"22": ("Parent",), "23": ("Variation",)})
    assert snapshot is not None
    assert snapshot.lines[1].categories == ("Parent",)


def test_coupon_codes_and_fee_less_discount() -> None:
    order = load("order-retrieve-727.json")
    order["coupon_lines"] = [
        {"id": 400, "code": "7kq4-m2zd-abcd-efgh", "discount": "1.00", "discount_tax": "0.00"},
        {"id": 401, "code": "summer", "discount": "0.50", "discount_tax": "0.00"},
    ]
    snapshot = map_order(order, STORE)
    assert snapshot is not None
    assert snapshot.coupon_codes == ("7kq4-m2zd-abcd-efgh", "summer")


def test_price_as_json_number_is_ignored() -> None:
    order = load("order-retrieve-727.json")
    order["line_items"][0]["price"] = 0.1 + 0.2
    snapshot = map_order(order, STORE)
    assert snapshot is not None
    assert_clean(snapshot)


def test_blank_optional_totals_are_none() -> None:
    order = dict(load("order-retrieve-727.json"), shipping_total="", total_tax=None)
    snapshot = map_order(order, STORE)
    assert snapshot is not None
    assert snapshot.shipping_total is None and snapshot.tax_total is None


def test_local_date_fallback_when_gmt_missing() -> None:
    order = load("order-retrieve-727.json")
    del order["date_created_gmt"]
    snapshot = map_order(order, STORE)
    assert snapshot is not None
    assert snapshot.placed_at == utc(2017, 3, 22, 16, 28, 2)


@pytest.mark.parametrize("total", ["0.00", "0.01", "1234567.89", "99999999999999.99"])
def test_money_strings_are_exact(total: str) -> None:
    snapshot = map_order(dict(load("order-retrieve-727.json"), total=total), STORE)
    assert snapshot is not None
    assert snapshot.total.amount == Decimal(total)
    assert str(snapshot.total.amount) == total


def _set(payload: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    result = copy.deepcopy(payload)
    target: Any = result
    for step in path[:-1]:
        target = target[step]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return result


DELETE = object()

FAILURES: list[tuple[tuple[str | int, ...], Any, str]] = [
    (("id",), DELETE, "id"),
    (("id",), None, "id"),
    (("id",), True, "id"),
    (("id",), -5, "id"),
    (("id",), "abc", "id"),
    (("status",), DELETE, "status"),
    (("status",), 3, "status"),
    (("currency",), "QQQ", "currency"),
    (("currency",), "", "currency"),
    (("currency",), 840, "currency"),
    (("total",), DELETE, "total"),
    (("total",), "-29.35", "total"),
    (("total",), "NaN", "total"),
    (("total",), "Infinity", "total"),
    (("total",), "-Infinity", "total"),
    (("total",), "1e400", "total"),
    (("total",), "1e2", "total"),
    (("total",), 29.35, "total"),
    (("total",), True, "total"),
    (("total",), "29,35", "total"),
    (("total",), "", "total"),
    (("total",), "1000000000000000.00", "total"),
    (("total",), 10**400, "total"),
    (("total",), {"amount": "29.35"}, "total"),
    (("shipping_total",), "-1.00", "shipping_total"),
    (("shipping_total",), 10.0, "shipping_total"),
    (("total_tax",), "lots", "total_tax"),
    (("customer_id",), DELETE, "customer_id"),
    (("customer_id",), True, "customer_id"),
    (("customer_id",), -1, "customer_id"),
    (("customer_id",), 1.5, "customer_id"),
    (("billing",), "john@example.com", "billing"),
    (("billing", "email"), 42, "billing.email"),
    (("line_items",), DELETE, "line_items"),
    (("line_items",), "many", "line_items"),
    (("line_items",), {"0": {}}, "line_items"),
    (("line_items", 1), [], "line_items[1]"),
    (("line_items", 1, "id"), DELETE, "line_items[1].id"),
    (("line_items", 1, "id"), 0, "line_items[1].id"),
    (("line_items", 1, "product_id"), "twenty-two", "line_items[1].product_id"),
    (("line_items", 1, "variation_id"), False, "line_items[1].variation_id"),
    (("line_items", 1, "quantity"), -1, "line_items[1].quantity"),
    (("line_items", 1, "quantity"), "1", "line_items[1].quantity"),
    (("line_items", 1, "quantity"), 1.0, "line_items[1].quantity"),
    (("line_items", 1, "quantity"), True, "line_items[1].quantity"),
    (("line_items", 1, "total"), DELETE, "line_items[1].total"),
    (("line_items", 1, "total"), "-12.00", "line_items[1].total"),
    (("line_items", 1, "total"), "1e400", "line_items[1].total"),
    (("line_items", 1, "total"), "sNaN", "line_items[1].total"),
    (("line_items", 1, "total"), "１２", "line_items[1].total"),
    (("line_items", 1, "total"), "1_2", "line_items[1].total"),
    (("line_items", 1, "name"), ["Ship"], "line_items[1].name"),
    (("line_items", 1, "sku"), 3, "line_items[1].sku"),
    (("coupon_lines",), "10off", "coupon_lines"),
    (("coupon_lines",), [{"code": None}], "coupon_lines[0].code"),
    (("coupon_lines",), [7], "coupon_lines[0]"),
    (("date_created_gmt",), "last tuesday", "date_created_gmt"),
    (("date_created_gmt",), 1490210882, "date_created_gmt"),
    (("date_paid_gmt",), "2017-02-30T00:00:00", "date_paid_gmt"),
    (("date_modified_gmt",), ["2017-03-22"], "date_modified_gmt"),
    (("number",), ["727"], "number"),
]


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    FAILURES,
    ids=[
        f"{'.'.join(map(str, p))}={v if v is not DELETE else 'DELETE'!r}"[:60]
        for p, v, _ in FAILURES
    ],
)
def test_bad_field_is_mapping_error_with_path(
    path: tuple[str | int, ...], value: Any, expected: str
) -> None:
    order = _set(load("order-retrieve-727.json"), path, value)
    with pytest.raises(MappingError) as info:
        map_order(order, STORE)
    assert info.value.path == expected
    assert str(info.value).startswith(f"{expected}: ")


def test_missing_both_created_dates() -> None:
    order = load("order-retrieve-727.json")
    del order["date_created_gmt"]
    order["date_created"] = None
    with pytest.raises(MappingError) as info:
        map_order(order, STORE)
    assert info.value.path == "date_created_gmt"


@pytest.mark.parametrize(
    ("path", "value", "cause"),
    [
        (("currency",), "QQQ", UnknownCurrency),
        (("total",), 10**400, InvalidAmount),
        (("line_items", 0, "total"), "1000000000000000", InvalidAmount),
    ],
)
def test_original_error_is_kept_as_cause(
    path: tuple[str | int, ...], value: Any, cause: type[Exception]
) -> None:
    with pytest.raises(MappingError) as info:
        map_order(_set(load("order-retrieve-727.json"), path, value), STORE)
    assert isinstance(info.value.__cause__, cause)


@pytest.mark.parametrize("payload", [None, [], "order", 727])
def test_non_object_payload(payload: Any) -> None:
    with pytest.raises(MappingError):
        map_order(payload, STORE)


# --------------------------------------------------------------------------- refunds


def test_embedded_refunds_docs_shape_refund_key() -> None:
    order = load("order-723-with-refunds.json")
    assert all("refund" in r and "reason" not in r for r in order["refunds"])
    refunds = map_embedded_refunds(order, STORE)
    assert [(r.refund_id, r.amount.amount) for r in refunds] == [
        ("726", Decimal("10.00")),
        ("724", Decimal("9.00")),
    ]
    for refund in refunds:
        assert_clean(refund)
        assert refund.order_id == "723"
        assert refund.key == f"woocommerce:{STORE}:723:refund:{refund.refund_id}"
        assert refund.created_at == utc(2017, 3, 21, 19, 54, 51)  # the order's date_modified_gmt
        assert refund.reason == ""
        assert refund.lines == ()


def test_embedded_refunds_core_shape_reason_key() -> None:
    order = load("order-723-with-refunds.json")
    order["refunds"] = [
        {"id": 726, "reason": "Damaged &amp; late", "total": "-10.00"},
        {"id": 724, "reason": "", "refund": "docs key", "total": "-9.00"},
        {"id": 730, "reason": None, "refund": "only docs key", "total": "-1.50"},
        {"id": 731, "reason": "core wins", "refund": "docs loses", "total": "-0.50"},
    ]
    refunds = map_embedded_refunds(order, STORE)
    assert [r.reason for r in refunds] == [
        "Damaged & late",
        "docs key",
        "only docs key",
        "core wins",
    ]
    assert refunds[2].amount == Money(Decimal("1.50"), "USD")


def test_embedded_refunds_empty_and_zero() -> None:
    assert map_embedded_refunds(load("order-retrieve-727.json"), STORE) == []
    order = load("order-723-with-refunds.json")
    order["refunds"].append({"id": 731, "reason": "", "total": "-0.00"})
    assert [r.refund_id for r in map_embedded_refunds(order, STORE)] == ["726", "724"]


@pytest.mark.parametrize(
    ("refund", "path"),
    [
        ({"id": 726, "reason": "", "total": "10.00"}, "refunds[0].total"),
        ({"id": 726, "reason": "", "total": "NaN"}, "refunds[0].total"),
        ({"id": 726, "reason": ""}, "refunds[0].total"),
        ({"reason": "", "total": "-10.00"}, "refunds[0].id"),
        ({"id": 726, "reason": 5, "total": "-10.00"}, "refunds[0].reason"),
        ("726", "refunds[0]"),
    ],
)
def test_embedded_refund_errors(refund: Any, path: str) -> None:
    order = load("order-723-with-refunds.json")
    order["refunds"] = [refund]
    with pytest.raises(MappingError) as info:
        map_embedded_refunds(order, STORE)
    assert info.value.path == path


def test_refund_retrieve_726() -> None:
    refund = map_refund(load("order-refund-retrieve-726.json"), STORE, "723", "USD")
    assert refund == RefundSnapshot(
        platform="woocommerce",
        store=STORE,
        order_id="723",
        refund_id="726",
        amount=Money(Decimal("10.00"), "USD"),
        created_at=utc(2017, 3, 21, 20, 7, 11),
        reason="",
        lines=(),
    )


@pytest.mark.parametrize("index", [0, 1])
def test_every_refund_in_list_723(index: int) -> None:
    raw = load("order-refunds-list-723.json")[index]
    refund = map_refund(raw, STORE, "723", "usd")
    assert_clean(refund)
    assert refund.refund_id == str(raw["id"])
    assert refund.amount.amount == Decimal(raw["amount"])
    assert refund.amount.currency == "USD"
    assert refund.order_key == f"woocommerce:{STORE}:723"
    assert refund.created_at == datetime.fromisoformat(raw["date_created_gmt"]).replace(tzinfo=UTC)


def test_refund_724_line_points_at_original_line() -> None:
    raw = load("order-refunds-list-723.json")[1]
    refund = map_refund(raw, STORE, "723", "USD")
    assert refund.refund_id == "724"
    assert refund.lines == (
        RefundLine(line_id="311", quantity=1, amount=Money(Decimal("9.00"), "USD")),
    )
    order = map_order(load("order-723-with-refunds.json"), STORE)
    assert order is not None
    assert refund.lines[0].line_id in {line.line_id for line in order.lines}


def test_refund_resources_agree_with_embedded_summaries() -> None:
    resources = {
        r.refund_id: r.amount
        for r in (
            map_refund(raw, STORE, "723", "USD") for raw in load("order-refunds-list-723.json")
        )
    }
    summaries = {
        r.refund_id: r.amount for r in map_embedded_refunds(load("orders-list.json")[1], STORE)
    }
    assert resources == summaries


def test_refund_line_with_int_refunded_item_id_and_no_quantity() -> None:
    raw = load("order-refunds-list-723.json")[1]
    item = raw["line_items"][0]
    item["meta_data"][0]["value"] = 311
    item["quantity"] = 0
    item["total"] = "-4.50"
    refund = map_refund(raw, STORE, "723", "USD")
    assert refund.lines == (RefundLine("311", 0, Money(Decimal("4.50"), "USD")),)


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("amount",), "0.00", "amount"),
        (("amount",), "-10.00", "amount"),
        (("amount",), 9.0, "amount"),
        (("amount",), DELETE, "amount"),
        (("id",), None, "id"),
        (("date_created_gmt",), "soon", "date_created_gmt"),
        (("line_items",), {}, "line_items"),
        (("line_items", 0, "meta_data"), [], "line_items[0].meta_data"),
        (("line_items", 0, "meta_data", 0, "value"), "abc", "line_items[0].meta_data"),
        (("line_items", 0, "quantity"), "-1", "line_items[0].quantity"),
        (("line_items", 0, "total"), "-Infinity", "line_items[0].total"),
        (("reason",), ["x"], "reason"),
    ],
)
def test_refund_errors(path: tuple[str | int, ...], value: Any, expected: str) -> None:
    raw = _set(load("order-refunds-list-723.json")[1], path, value)
    with pytest.raises(MappingError) as info:
        map_refund(raw, STORE, "723", "USD")
    assert info.value.path.startswith(expected)


@pytest.mark.parametrize(
    ("order_id", "currency", "path"), [("723", "QQQ", "currency"), ("", "USD", "order_id")]
)
def test_refund_bad_arguments(order_id: str, currency: str, path: str) -> None:
    with pytest.raises(MappingError) as info:
        map_refund(load("order-refund-retrieve-726.json"), STORE, order_id, currency)
    assert info.value.path == path


# --------------------------------------------------------------------------- customers


def customer_payloads() -> list[tuple[str, dict[str, Any]]]:
    found = [
        (name, load(name)) for name in ("customer-retrieve-25.json", "customer-update-25.json")
    ]
    for action, customers in load("customers-batch-response.json").items():
        for i, customer in enumerate(customers):
            found.append((f"customers-batch-response.json:{action}[{i}]", customer))
    return found


CUSTOMERS = customer_payloads()


@pytest.mark.parametrize(("label", "payload"), CUSTOMERS, ids=[label for label, _ in CUSTOMERS])
def test_every_fixture_customer_maps(label: str, payload: dict[str, Any]) -> None:
    ref = map_customer(payload, STORE)
    assert ref.platform == "woocommerce" and ref.store == STORE
    assert ref.external_id == str(payload["id"])
    assert ref.email == payload["email"]
    assert ref.first_name == payload["first_name"]
    assert ref.last_name == payload["last_name"]
    assert customer_birthday(payload) is None  # meta_data is empty in all of them


def test_customer_25() -> None:
    assert map_customer(load("customer-retrieve-25.json"), STORE) == CustomerRef(
        "woocommerce", STORE, "25", "john.doe@example.com", "John", "Doe"
    )
    assert map_customer(load("customer-update-25.json"), STORE).first_name == "James"


def test_customer_falls_back_to_billing() -> None:
    payload = dict(load("customer-retrieve-25.json"), email="", first_name=None)
    ref = map_customer(payload, STORE)
    assert (ref.email, ref.first_name) == ("john.doe@example.com", "John")


@pytest.mark.parametrize(
    ("key", "value"), [("id", DELETE), ("id", 0), ("id", "x"), ("email", 5), ("billing", [])]
)
def test_customer_errors(key: str, value: Any) -> None:
    with pytest.raises(MappingError) as info:
        map_customer(_set(load("customer-retrieve-25.json"), (key,), value), STORE)
    assert info.value.path.split(".")[0] == key


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        ([{"id": 1, "key": "birthday", "value": "1990-05-17"}], date(1990, 5, 17)),
        (
            [{"key": "other", "value": "x"}, {"key": "birthday", "value": " 2000-02-29 "}],
            date(2000, 2, 29),
        ),
        ([{"key": "birthday", "value": "1990-02-30"}], None),
        ([{"key": "birthday", "value": "17/05/1990"}], None),
        ([{"key": "birthday", "value": "19900517"}], None),
        ([{"key": "birthday", "value": "1990-05-17T00:00:00"}], None),
        ([{"key": "birthday", "value": 19900517}], None),
        ([{"key": "birthday", "value": None}], None),
        ([{"key": "birthday", "value": ""}], None),
        ([], None),
        (None, None),
        ("birthday", None),
        ([["birthday", "1990-05-17"]], None),
    ],
)
def test_customer_birthday(meta: Any, expected: date | None) -> None:
    payload = dict(load("customer-retrieve-25.json"), meta_data=meta)
    assert customer_birthday(payload) == expected


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(["key", "value", "id", "birthday"]), children, max_size=4)
    ),
    max_leaves=12,
)


@given(meta=JSON)
def test_customer_birthday_never_raises(meta: Any) -> None:
    result = customer_birthday({"meta_data": meta})
    assert result is None or isinstance(result, date)


def test_customer_meta_update() -> None:
    assert customer_meta_update(123, "gold") == {
        "meta_data": [
            {"key": "loyalty_points", "value": "123"},
            {"key": "loyalty_tier", "value": "gold"},
        ]
    }
    assert customer_meta_update(0, None)["meta_data"][1] == {"key": "loyalty_tier", "value": ""}
    with pytest.raises(InvalidAmount):
        customer_meta_update(True, None)
    with pytest.raises(InvalidAmount):
        customer_meta_update(1.5, None)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- coupons

EXPIRES = datetime(2026, 1, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=2)))
REAL_COUPON_KEYS = set(load("coupon-retrieve-719.json"))


def test_real_coupon_resources_have_the_keys_we_rely_on() -> None:
    for coupon in load("coupons-list.json"):
        assert set(coupon) == REAL_COUPON_KEYS


@pytest.mark.parametrize(
    ("kind", "value", "product_id"),
    [
        (RewardKind.FIXED_AMOUNT, Decimal("5"), None),
        (RewardKind.PERCENT, Decimal("10"), None),
        (RewardKind.FREE_SHIPPING, Decimal(0), None),
        (RewardKind.FREE_PRODUCT, Decimal(0), "93"),
    ],
)
def test_coupon_payload_keys_exist_on_real_coupons(
    kind: RewardKind, value: Decimal, product_id: str | None
) -> None:
    body = coupon_payload(
        "7KQ4-M2ZD-ABCD-EFGH",
        kind=kind,
        value=value,
        currency="EUR",
        email="john.doe@example.com",
        expires_at=EXPIRES,
        product_id=product_id,
    )
    assert set(body) <= REAL_COUPON_KEYS, set(body) - REAL_COUPON_KEYS
    assert body["code"] == "7KQ4-M2ZD-ABCD-EFGH"
    assert body["email_restrictions"] == ["john.doe@example.com"]
    assert body["usage_limit"] == 1 and body["usage_limit_per_user"] == 1
    assert body["individual_use"] is True
    assert body["date_expires_gmt"] == "2026-01-31T21:59:59"
    assert body["minimum_amount"] == "0.00"
    assert body["meta_data"] == [{"key": "_loyalty_plugins", "value": "1"}]
    assert isinstance(body["amount"], str)
    for key in body:  # same JSON type as the real coupon (where the real one is not null)
        real = load("coupon-retrieve-719.json")[key]
        if real is not None:
            assert type(body[key]) is type(real), key
    json.dumps(body)


def test_coupon_payload_per_kind() -> None:
    common: dict[str, Any] = {"currency": "USD", "email": "a@example.com", "expires_at": None}
    fixed = coupon_payload("A", kind="fixed_amount", value="5", minimum_order="20", **common)
    assert (fixed["discount_type"], fixed["amount"], fixed["minimum_amount"]) == (
        "fixed_cart",
        "5.00",
        "20.00",
    )
    assert "free_shipping" not in fixed and "product_ids" not in fixed
    assert fixed["date_expires_gmt"] is None
    percent = coupon_payload("B", kind=RewardKind.PERCENT, value=Decimal("12.5"), **common)
    assert (percent["discount_type"], percent["amount"]) == ("percent", "12.50")
    shipping = coupon_payload("C", kind=RewardKind.FREE_SHIPPING, value=0, **common)
    assert (shipping["discount_type"], shipping["amount"], shipping["free_shipping"]) == (
        "fixed_cart",
        "0.00",
        True,
    )
    product = coupon_payload("D", kind=RewardKind.FREE_PRODUCT, value=0, product_id="93", **common)
    assert product["discount_type"] == "percent"
    assert product["amount"] == "100.00"
    assert product["product_ids"] == [93]
    assert product["limit_usage_to_x_items"] == 1


def test_coupon_payload_currency_precision() -> None:
    yen = coupon_payload(
        "Y", kind="fixed_amount", value=500, currency="JPY", email=None, expires_at=None
    )
    assert yen["amount"] == "500.00"
    assert yen["email_restrictions"] == []
    dinar = coupon_payload(
        "K", kind="fixed_amount", value="1.234", currency="KWD", email=None, expires_at=None
    )
    assert dinar["amount"] == "1.234"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"kind": "fixed_amount", "value": "5.005"}, InvalidAmount),
        ({"kind": "fixed_amount", "value": "0"}, InvalidAmount),
        ({"kind": "fixed_amount", "value": "5", "currency": None}, ValidationError),
        ({"kind": "fixed_amount", "value": "5", "currency": "QQQ"}, UnknownCurrency),
        ({"kind": "fixed_amount", "value": 5.0}, InvalidAmount),
        ({"kind": "percent", "value": "0"}, InvalidAmount),
        ({"kind": "percent", "value": "100.01"}, InvalidAmount),
        ({"kind": "percent", "value": "NaN"}, InvalidAmount),
        ({"kind": "free_product", "value": 0}, ValidationError),
        ({"kind": "free_product", "value": 0, "product_id": "abc"}, ValidationError),
        ({"kind": "cashback", "value": 1}, ValidationError),
        ({"kind": "percent", "value": 5, "minimum_order": "-1"}, InvalidAmount),
        ({"kind": "percent", "value": 5, "email": "nobody"}, ValidationError),
        ({"kind": "percent", "value": 5, "expires_at": datetime(2026, 1, 1)}, ValidationError),
        ({"kind": "percent", "value": 5, "code": "  "}, ValidationError),
    ],
)
def test_coupon_payload_refuses_bad_arguments(
    kwargs: dict[str, Any], error: type[Exception]
) -> None:
    args: dict[str, Any] = {
        "code": "X",
        "currency": "EUR",
        "email": "a@example.com",
        "expires_at": EXPIRES,
    }
    args.update(kwargs)
    with pytest.raises(error):
        coupon_payload(**args)


def test_coupon_usage_real_coupons() -> None:
    assert coupon_usage(load("coupon-retrieve-719.json")) == (0, [])
    for coupon in load("coupons-list.json"):
        assert coupon_usage(coupon) == (0, [])
    for coupons in load("coupons-batch-response.json").values():
        for coupon in coupons:
            assert coupon_usage(coupon) == (0, [])


def test_coupon_usage_counts_ids_and_emails() -> None:
    coupon = dict(
        load("coupon-retrieve-719.json"), usage_count=2, used_by=[26, "guest@example.com"]
    )
    assert coupon_usage(coupon) == (2, ["26", "guest@example.com"])


@pytest.mark.parametrize(
    ("key", "value", "path"),
    [
        ("usage_count", "2", "usage_count"),
        ("usage_count", True, "usage_count"),
        ("usage_count", -1, "usage_count"),
        ("used_by", "26", "used_by"),
        ("used_by", [None], "used_by[0]"),
        ("used_by", [26, 2.5], "used_by[1]"),
    ],
)
def test_coupon_usage_errors(key: str, value: Any, path: str) -> None:
    with pytest.raises(MappingError) as info:
        coupon_usage(dict(load("coupon-retrieve-719.json"), **{key: value}))
    assert info.value.path == path


# --------------------------------------------------------------------------- hypothesis

SPECIAL = st.sampled_from(
    [
        "-1.00",
        "-0.01",
        "NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "1e400",
        "1E+2",
        "1e15",
        "999999999999999.99",
        "",
        " ",
        "abc",
        "QQQ",
        "usd",
        "EUR",
        "JPY",
        "0",
        "0.00",
        "26",
        "processing",
        "refunded",
        "shipped",
        "2017-03-22T19:28:08",
        "2017-03-22T19:28:08+05:00",
        "0000-00-00 00:00:00",
        "\x00",
        "١٢٣",
    ]
)
GARBAGE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**14, max_value=10**500)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=10)
    | SPECIAL,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["id", "total", "code", "email", "key", "value", "quantity"])
            | st.text(max_size=4),
            children,
            max_size=3,
        )
    ),
    max_leaves=8,
)

Path_ = tuple[str | int, ...]


def paths(value: Any, prefix: Path_ = ()) -> list[Path_]:
    """Every key/index path inside a JSON value (not the root itself)."""
    found: list[Path_] = []
    items: list[tuple[str | int, Any]]
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    else:
        return found
    for key, child in items:
        found.append((*prefix, key))
        found.extend(paths(child, (*prefix, key)))
    return found


ORDER_PATHS = {label: paths(order) for label, order in ORDERS}


def _variant(current: Any) -> st.SearchStrategy[Any]:
    """Type-confused or sign-flipped versions of a real value."""
    options: list[Any] = [None, [current], {"value": current}, str(current), True, False]
    if isinstance(current, str):
        options += ["-" + current, current + "e400", current + "0" * 40, current.upper()]
    if isinstance(current, int) and not isinstance(current, bool):
        options += [-current, current * 10**20]
        if abs(current) < 2**53:
            options.append(float(current))
    return st.sampled_from(options)


@st.composite
def mutated_order(draw: st.DrawFn) -> tuple[dict[str, Any], set[str]]:
    _label, order = draw(st.sampled_from(ORDERS))
    order = copy.deepcopy(order)
    roots: set[str] = set()
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(paths(order)))  # recomputed: earlier mutations count
        parent: Any = order
        for step in path[:-1]:
            parent = parent[step]
        roots.add(str(path[0]))
        action = draw(st.sampled_from(["delete", "garbage", "variant"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "garbage":
            parent[path[-1]] = draw(GARBAGE)
        else:
            parent[path[-1]] = draw(_variant(parent[path[-1]]))
    return order, roots


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=mutated_order(), policy=st.sampled_from(["match_email", "skip"]))
def test_mutated_orders_map_or_raise_mapping_error(
    case: tuple[dict[str, Any], set[str]], policy: Any
) -> None:
    order, roots = case
    try:
        snapshot = map_order(order, STORE, guest_policy=policy, categories={"93": ("Music",)})
    except MappingError as exc:
        event("MappingError")
        assert exc.path, exc  # always names a field
        root = exc.path.split(".")[0].split("[")[0]
        assert root in roots, (exc.path, roots)
        return
    if snapshot is None:
        event("skipped guest")
        assert policy == "skip"
        return
    event("snapshot")
    assert isinstance(snapshot, OrderSnapshot)
    assert_clean(snapshot)
    for line in snapshot.lines:
        assert line.quantity >= 0 and line.total.amount >= 0


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_mutated_refunds_map_or_raise_mapping_error(data: st.DataObject) -> None:
    raw = copy.deepcopy(data.draw(st.sampled_from(load("order-refunds-list-723.json"))))
    path = data.draw(st.sampled_from(paths(raw)))
    parent: Any = raw
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = data.draw(GARBAGE | _variant(parent[path[-1]]))
    try:
        refund = map_refund(raw, STORE, "723", "USD")
    except MappingError as exc:
        assert exc.path.split(".")[0].split("[")[0] == str(path[0])
        return
    assert_clean(refund)
    assert refund.amount.amount > 0


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_mutated_embedded_refunds_map_or_raise_mapping_error(data: st.DataObject) -> None:
    order = load("order-723-with-refunds.json")
    path = data.draw(
        st.sampled_from(
            [p for p in paths(order) if p[0] in {"refunds", "id", "currency", "date_modified_gmt"}]
        )
    )
    parent: Any = order
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = data.draw(GARBAGE | _variant(parent[path[-1]]))
    try:
        refunds = map_embedded_refunds(order, STORE)
    except MappingError as exc:
        assert exc.path.split(".")[0].split("[")[0] == str(path[0])
        return
    for refund in refunds:
        assert_clean(refund)
        assert refund.amount.amount > 0


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_mutated_customers_map_or_raise_mapping_error(data: st.DataObject) -> None:
    payload = load("customer-retrieve-25.json")
    path = data.draw(st.sampled_from(paths(payload)))
    parent: Any = payload
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = data.draw(GARBAGE | _variant(parent[path[-1]]))
    try:
        ref = map_customer(payload, STORE)
    except MappingError as exc:
        assert exc.path.split(".")[0] == str(path[0])
        return
    assert ref.external_id is not None
    assert customer_birthday(payload) is None or isinstance(customer_birthday(payload), date)


@given(amount=st.decimals(min_value=0, max_value=Decimal("999999999999999.99"), places=2))
def test_two_decimal_strings_round_trip_exactly(amount: Decimal) -> None:
    order = load("order-retrieve-727.json")
    order["total"] = f"{amount:f}"
    order["line_items"][0]["total"] = f"{amount:f}"
    snapshot = map_order(order, STORE)
    assert snapshot is not None
    assert snapshot.total.amount == amount
    assert snapshot.lines[0].total.amount == amount


@given(moment=st.datetimes(timezones=st.just(UTC)).map(lambda d: d.replace(microsecond=0)))
def test_gmt_datetimes_round_trip(moment: datetime) -> None:
    text = moment.replace(tzinfo=None).isoformat()
    assert parse_wc_datetime(text) == moment
    body = coupon_payload(
        "X", kind="percent", value=5, currency=None, email=None, expires_at=moment
    )
    assert body["date_expires_gmt"] == text
