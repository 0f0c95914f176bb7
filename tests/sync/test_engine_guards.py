"""Guards of the sync engine: store errors stop a run, locks are per schema and renewed,
and an order recorded later leaves quarantine."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from loyalty_plugins.clock import FixedClock
from loyalty_plugins.errors import LockBusy, RateLimited
from loyalty_plugins.program import LoyaltyProgram
from loyalty_plugins.storage import tables as t
from loyalty_plugins.storage.database import Database
from loyalty_plugins.sync import state
from loyalty_plugins.sync.engine import SyncEngine
from loyalty_plugins.sync.http import HttpPolicy
from loyalty_plugins.testing.woocommerce import WooCommerceEmulator, generate_store
from loyalty_woocommerce.client import WooCommerceClient, WooCommerceStore

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
POLICY = HttpPolicy(backoff_base=0.01, backoff_cap=0.05, max_retry_after=5)


def program_at(tmp_path: Path, clock: FixedClock) -> LoyaltyProgram:
    config = {"program": {"database": f"sqlite:///{tmp_path / 'l.db'}", "currency": "EUR"}}
    return LoyaltyProgram.open(config, clock=clock, load_entrypoints=False)


def client_for(emu: WooCommerceEmulator) -> WooCommerceClient:
    return WooCommerceClient(
        WooCommerceStore("shop", emu.url, emu.consumer_key, emu.consumer_secret), policy=POLICY
    )


def test_throttled_refund_fetch_stops_the_run_without_quarantine(tmp_path: Path) -> None:
    clock = FixedClock(NOW)
    with (
        WooCommerceEmulator(generate_store(150, seed=9, now=NOW)) as emu,
        program_at(tmp_path, clock) as program,
    ):
        emu.faults.enqueue(status=429, count=1, retry_after=60, path="/refunds")
        with pytest.raises(RateLimited):
            SyncEngine(program, client_for(emu)).run()
        assert state.list_quarantine(program.db) == []
        finished = SyncEngine(program, client_for(emu)).run()  # the next cron run completes
        assert finished.quarantined == 0
        assert program.verify().ok


def test_a_quarantined_order_recorded_later_is_resolved(tmp_path: Path) -> None:
    clock = FixedClock(NOW)
    with (
        WooCommerceEmulator(generate_store(30, seed=9, now=NOW)) as emu,
        program_at(tmp_path, clock) as program,
    ):
        client = client_for(emu)
        order = next(iter(client.iter_orders(None)))
        state.quarantine_payload(
            program.db,
            platform="woocommerce",
            store="shop",
            resource="order",
            external_id=str(order["id"]),
            payload=dict(order),
            reason="earlier failure",
            now=NOW,
        )
        SyncEngine(program, client).run()
        assert state.list_quarantine(program.db) == []


def test_sqlite_lock_is_renewed_by_its_holder(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'lock.db'}")
    LoyaltyProgram.open(f"sqlite:///{tmp_path / 'lock.db'}", load_entrypoints=False).close()
    with state.store_lock(db, "shop", NOW):
        later = NOW + state.LOCK_TTL - timedelta(minutes=1)
        state.renew_store_lock(db, "shop", later)
        past_first_expiry = NOW + state.LOCK_TTL + timedelta(minutes=5)
        with pytest.raises(LockBusy), state.store_lock(db, "shop", past_first_expiry):
            pass  # still held: the renewal moved the expiry
    with db.read() as conn:
        assert conn.execute(t.sync_locks.select()).all() == []
    db.dispose()


def test_advisory_locks_are_per_schema(pg_url: tuple[str, str]) -> None:
    from sqlalchemy import create_engine, text

    url, schema = pg_url
    other = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{other}"'))
    first, second = Database(url, schema=schema), Database(url, schema=other)
    try:
        with (
            state.store_lock(first, "shop", NOW),
            state.store_lock(second, "shop", NOW),
            pytest.raises(LockBusy),
            state.store_lock(first, "shop", NOW),
        ):
            pass
    finally:
        first.dispose()
        second.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{other}" CASCADE'))
        admin.dispose()


def test_guest_members_get_their_coupons_pushed(tmp_path: Path) -> None:
    clock = FixedClock(NOW)
    config = {
        "program": {"database": f"sqlite:///{tmp_path / 'l.db'}", "currency": "EUR"},
        "rewards": [
            {"key": "5-off", "name": "5 off", "cost": 10, "kind": "fixed_amount", "value": "5"}
        ],
    }
    with (
        WooCommerceEmulator(generate_store(60, seed=9, now=NOW)) as emu,
        LoyaltyProgram.open(config, clock=clock, load_entrypoints=False) as program,
    ):
        client = client_for(emu)
        SyncEngine(program, client).run()
        with program.db.read() as conn:
            guest = conn.execute(
                t.member_refs.select().where(t.member_refs.c.external_id.startswith("email:"))
            ).first()
        assert guest is not None, "the generated store has guest orders"
        program.adjust(guest.member_id, 10, reason="test", actor="test")
        coupon = program.redeem(guest.member_id, "5-off")
        assert SyncEngine(program, client).run().coupons_pushed == 1
        found = emu.api_client().get("coupons", params={"code": coupon.code.lower()}).json()
        assert found[0]["email_restrictions"] == [program.member(guest.member_id).email]
