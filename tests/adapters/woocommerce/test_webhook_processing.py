"""Stored WooCommerce deliveries go through the same idempotent path as the cron sync."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from loyalty_plugins.clock import FixedClock
from loyalty_plugins.errors import MappingError
from loyalty_plugins.program import LoyaltyProgram
from loyalty_plugins.sync.state import Delivery, list_quarantine
from loyalty_plugins.testing.woocommerce import WooCommerceEmulator, generate_store
from loyalty_woocommerce.client import WooCommerceClient, WooCommerceStore
from loyalty_woocommerce.webhooks import make_processor

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
FIXTURES = (
    Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "real" / "woocommerce"
)


@pytest.fixture
def setup(
    tmp_path: Path,
) -> Iterator[tuple[LoyaltyProgram, WooCommerceEmulator, WooCommerceClient]]:
    store = generate_store(40, seed=5, now=NOW)
    config = {"program": {"database": f"sqlite:///{tmp_path / 'l.db'}", "currency": "EUR"}}
    with (
        WooCommerceEmulator(store) as emu,
        LoyaltyProgram.open(config, clock=FixedClock(NOW), load_entrypoints=False) as program,
    ):
        client = WooCommerceClient(
            WooCommerceStore("shop", emu.url, emu.consumer_key, emu.consumer_secret)
        )
        yield program, emu, client


def delivery(topic: str, body: str, n: int = 1) -> Delivery:
    return Delivery(n, "woocommerce", "shop", f"d{n}", topic, body, NOW, "pending")


def paid_order(emu: WooCommerceEmulator) -> dict[str, object]:
    response = emu.api_client().get("orders", params={"status": "completed", "per_page": 1})
    payload: dict[str, object] = response.json()[0]
    return payload


def test_order_delivered_twice_awards_once(
    setup: tuple[LoyaltyProgram, WooCommerceEmulator, WooCommerceClient],
) -> None:
    program, emu, client = setup
    process = make_processor(program, {"shop": client})
    body = json.dumps(paid_order(emu))
    process(delivery("order.updated", body, 1))
    process(delivery("order.updated", body, 2))
    members = program.members()
    assert len(members) == 1
    assert len(program.history(members[0][0].id)) >= 1
    assert program.verify().ok


def test_deleted_order_gives_points_back(
    setup: tuple[LoyaltyProgram, WooCommerceEmulator, WooCommerceClient],
) -> None:
    program, emu, client = setup
    process = make_processor(program, {"shop": client})
    payload = paid_order(emu)
    process(delivery("order.created", json.dumps(payload), 1))
    member = program.members()[0][0].id
    assert program.balance(member).pending + program.balance(member).available > 0
    process(delivery("order.deleted", json.dumps({"id": payload["id"]}), 2))
    assert program.balance(member).pending + program.balance(member).available == 0
    process(delivery("order.deleted", json.dumps({"id": 999999}), 3))  # never earned: no-op


def test_bad_bodies_are_refused_with_a_reason(
    setup: tuple[LoyaltyProgram, WooCommerceEmulator, WooCommerceClient],
) -> None:
    program, _, client = setup
    process = make_processor(program, {"shop": client})
    with pytest.raises(MappingError, match="not valid JSON"):
        process(delivery("order.updated", "{truncated", 1))
    with pytest.raises(MappingError, match="not an object"):
        process(delivery("order.updated", "[1, 2]", 2))
    real = json.loads((FIXTURES / "order-retrieve-727.json").read_text())
    real["line_items"][0]["total"] = "not money"
    process(delivery("order.updated", json.dumps(real), 3))  # quarantined by the engine
    (item,) = list_quarantine(program.db)
    assert "line_items[0].total" in item.reason
    process(delivery("action.woocommerce_add_to_cart", "{}", 4))  # not our topic: ignored


def test_signed_deliveries_through_the_real_receiver(
    setup: tuple[LoyaltyProgram, WooCommerceEmulator, WooCommerceClient],
) -> None:
    """Emulator -> HTTP -> receiver -> inbox -> processor -> ledger, with duplicates."""
    import time

    from loyalty_plugins.web import start_in_thread

    program, emu, client = setup
    secret = "shop-webhook-secret"
    processor = make_processor(program, {"shop": client})
    payload = paid_order(emu)
    with start_in_thread(
        program, secrets={("woocommerce", "shop"): secret}, processor=processor, poll_interval=0.05
    ) as server:
        url = f"{server.url}/webhooks/woocommerce/shop"
        results = emu.deliver_webhook(
            url, "order.updated", int(str(payload["id"])), secret, duplicate=3
        )
        assert [r.status_code for r in results] == [200] * 4
        bad = emu.deliver_webhook(url, "order.updated", int(str(payload["id"])), "wrong-secret")
        assert bad[0].status_code == 401
        deadline = time.monotonic() + 10
        while not program.members() and time.monotonic() < deadline:
            time.sleep(0.05)
    (member, _), *others = program.members()
    assert others == []
    assert len([line for line in program.history(member.id) if line.kind == "award"]) == 1


def test_customer_delivery_enrols_with_birthday(
    setup: tuple[LoyaltyProgram, WooCommerceEmulator, WooCommerceClient],
) -> None:
    program, emu, client = setup
    process = make_processor(program, {"shop": client})
    customers = emu.api_client().get("customers", params={"per_page": 100}).json()
    with_birthday = next(
        c for c in customers if any(m["key"] == "birthday" for m in c["meta_data"])
    )
    expected = next(m["value"] for m in with_birthday["meta_data"] if m["key"] == "birthday")
    process(delivery("customer.updated", json.dumps(with_birthday), 1))
    process(delivery("customer.updated", json.dumps(with_birthday), 2))
    member = program.find_member("woocommerce", "shop", str(with_birthday["id"]))
    assert member is not None and member.birthday is not None
    assert member.birthday.isoformat() == expected
    assert len(program.members()) == 1
