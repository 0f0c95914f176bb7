"""The WooCommerce sync end to end: SyncEngine + WooCommerceClient against the store emulator.

Every test drives a real HTTP server (:class:`WooCommerceEmulator`) over a generated,
reproducible shop and checks the ledger the sync leaves behind, on SQLite and (for the key
properties) PostgreSQL. Ledgers are compared as canonical dumps: every row of the ledger
and sync tables, with database ids replaced by what identifies a row across databases (the
member's store references, the order's source key, the coupon's code).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pytest
from sqlalchemy import func, select

from loyalty_plugins.clock import FixedClock, as_utc
from loyalty_plugins.context import HookContext
from loyalty_plugins.domain.money import Money
from loyalty_plugins.domain.orders import RefundSnapshot
from loyalty_plugins.domain.rewards import CouponStatus
from loyalty_plugins.errors import LockBusy, RateLimited
from loyalty_plugins.plugins import hookimpl
from loyalty_plugins.program import LoyaltyProgram
from loyalty_plugins.storage import tables as t
from loyalty_plugins.sync import state
from loyalty_plugins.sync.engine import OVERLAP, RunSummary, SyncEngine
from loyalty_plugins.sync.http import HttpPolicy
from loyalty_plugins.testing.woocommerce import (
    CouponNotUsableError,
    EmulatorFaults,
    WooCommerceEmulator,
    WooStore,
    generate_store,
)
from loyalty_plugins.testing.woocommerce.faults import FaultResponse, default_fault_response
from loyalty_woocommerce import mapping
from loyalty_woocommerce.client import WooCommerceClient, WooCommerceStore

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
CHILD = Path(__file__).with_name("sync_child.py")
PAID = ("processing", "completed")
NOT_YET = ("pending", "on-hold")
TIMEOUT = 30.0  # seconds: joins, subprocess waits, polling deadlines

REWARDS: list[dict[str, Any]] = [
    {"key": "5-off", "name": "5 EUR off", "cost": 100, "kind": "fixed_amount", "value": "5"},
]
CONFIG: dict[str, Any] = {
    "program": {"currency": "EUR", "return_window_days": 14},
    "tiers": {
        "window_days": 365,
        "grace_days": 30,
        "levels": [
            {"key": "silver", "name": "Silver", "threshold": "200", "earn_multiplier": "1"},
            {"key": "gold", "name": "Gold", "threshold": "1000", "earn_multiplier": "1.5"},
        ],
    },
    "rewards": REWARDS,
}
# The interrupted run and its reference run at different clocks (see the SIGKILL test), so
# nothing may depend on "now" except the pending/available split: no tiers, no expiry.
KILL_CONFIG: dict[str, Any] = {
    "program": {"currency": "EUR", "return_window_days": 14, "expiry_months": 0},
    "rewards": REWARDS,
}


# --------------------------------------------------------------------------- plumbing


@dataclass(frozen=True)
class Db:
    """Where a test's program lives."""

    url: str
    schema: str | None = None

    @property
    def is_postgres(self) -> bool:
        return self.url.startswith("postgresql")


@pytest.fixture
def db(backend: tuple[str, str | None]) -> Db:
    """The database under test: conftest's ``backend`` (SQLite, and PostgreSQL when configured)."""
    return Db(*backend)


@pytest.fixture
def store_name() -> str:
    # Unique per test, so no two tests ever share a store's lock or checkpoints.
    return f"shop-{uuid.uuid4().hex[:8]}"


ProgramOpener = Callable[..., LoyaltyProgram]
EmulatorFactory = Callable[..., WooCommerceEmulator]


@pytest.fixture
def programs() -> Iterator[ProgramOpener]:
    """``open(db, *, clock=None, config=CONFIG, plugins=())``; all closed at teardown."""
    opened: list[LoyaltyProgram] = []

    def open_program(
        where: Db,
        *,
        clock: FixedClock | None = None,
        config: dict[str, Any] = CONFIG,
        plugins: Collection[object] = (),
    ) -> LoyaltyProgram:
        data = {**config, "program": {**config["program"], "database": where.url}}
        program = LoyaltyProgram.open(
            data,
            clock=clock or FixedClock(NOW),
            load_entrypoints=False,
            schema=where.schema,
            plugins=plugins,
        )
        opened.append(program)
        return program

    yield open_program
    for program in opened:
        program.close()


@pytest.fixture
def emulators() -> Iterator[EmulatorFactory]:
    """``make(orders, *, seed, clock=None, faults=None)``: a running emulator of a generated shop."""
    started: list[WooCommerceEmulator] = []

    def make(
        orders: int,
        *,
        seed: int,
        clock: FixedClock | None = None,
        faults: EmulatorFaults | None = None,
    ) -> WooCommerceEmulator:
        shop = generate_store(orders, seed=seed, now=NOW, clock=clock)
        emulator = WooCommerceEmulator(shop, faults=faults).start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()


def fast_policy(**overrides: Any) -> HttpPolicy:
    options: dict[str, Any] = {
        "connect_timeout": 5.0,
        "read_timeout": 15.0,
        "backoff_base": 0.01,
        "backoff_cap": 0.05,
        "max_retry_after": 5,
    }
    options.update(overrides)
    return HttpPolicy(**options)


def make_client(emu: WooCommerceEmulator, name: str, **policy: Any) -> WooCommerceClient:
    return WooCommerceClient(
        WooCommerceStore(name, emu.url, emu.consumer_key, emu.consumer_secret),
        policy=fast_policy(**policy),
    )


def sync(
    program: LoyaltyProgram, emu: WooCommerceEmulator, name: str, **options: Any
) -> RunSummary:
    """One run with a fresh engine and client (as a cron job would do)."""
    return SyncEngine(program, make_client(emu, name)).run(**options)


def count_orders(program: LoyaltyProgram) -> int:
    with program.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(t.orders)).scalar_one())


def points_totals(program: LoyaltyProgram) -> tuple[int, int]:
    """(points awarded, points reversed) over all recorded orders."""
    o = t.orders.c
    with program.db.read() as conn:
        awarded, reversed_ = conn.execute(
            select(
                func.coalesce(func.sum(o.points_awarded), 0),
                func.coalesce(func.sum(o.points_reversed), 0),
            )
        ).one()
    return int(awarded), int(reversed_)


def order_row(program: LoyaltyProgram, name: str, order_id: int) -> Any:
    key = f"{mapping.PLATFORM}:{name}:{order_id}"
    with program.db.read() as conn:
        return conn.execute(select(t.orders).where(t.orders.c.source_key == key)).one()


def customer_meta(shop: WooStore, customer_id: int, key: str) -> Any:
    customer = shop.get_customer(customer_id)
    assert customer is not None
    return next((m.value for m in customer.meta_data if m.key == key), None)


# --------------------------------------------------------------------------- dumps


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, Decimal):
        return str(value)
    return value


def _sorted(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(rows, key=repr)


def dump(
    program: LoyaltyProgram,
    *,
    journal_kinds: Collection[str] | None = None,
    sync_tables: bool = True,
) -> dict[str, list[tuple[Any, ...]]]:
    """The program's whole state, canonical and free of database ids.

    Members are named by their store references (``platform:store:external_id``, sorted);
    orders, lots and refunds by order source key; coupons by code. Enrolment and
    ``recorded_at`` times are left out (they are "now" of whichever run wrote them).
    """
    mr, a = t.member_refs.c, t.accounts.c
    with program.db.read(snapshot=True) as conn:
        refs: dict[int, list[str]] = {}
        for member_id, platform, shop, external in conn.execute(
            select(mr.member_id, mr.platform, mr.store, mr.external_id)
        ):
            refs.setdefault(int(member_id), []).append(f"{platform}:{shop}:{external}")
        members = conn.execute(select(t.members)).all()
        who = {
            int(r.id): "|".join(sorted(refs.get(int(r.id), []))) or f"email:{r.email}"
            for r in members
        }
        balances: dict[int, dict[str, int]] = {}
        for member_id, kind, balance in conn.execute(
            select(a.member_id, a.kind, a.balance).where(a.member_id.is_not(None))
        ):
            balances.setdefault(int(member_id), {})[kind] = int(balance)
        order_rows = conn.execute(select(t.orders)).all()
        order_key = {int(r.id): r.source_key for r in order_rows}
        coupon_rows = conn.execute(select(t.coupons)).all()
        coupon_code = {int(r.id): r.code for r in coupon_rows}
        result: dict[str, list[tuple[Any, ...]]] = {
            "members": _sorted(
                [
                    (
                        who[int(r.id)],
                        r.email,
                        r.first_name,
                        r.last_name,
                        _plain(r.birthday),
                        r.tier,
                        _plain(r.tier_since),
                        _plain(r.redacted_at),
                        tuple(sorted(balances.get(int(r.id), {}).items())),
                    )
                    for r in members
                ]
            ),
            "orders": _sorted(
                [
                    tuple(
                        who[int(r.member_id)] if col == "member_id" else _plain(r._mapping[col])
                        for col in r._mapping
                        if col not in ("id", "journal_id")
                    )
                    for r in order_rows
                ]
            ),
            "refunds": _sorted(
                [
                    (
                        r.source_key,
                        order_key[int(r.order_id)],
                        int(r.amount_minor),
                        int(r.points_reversed),
                        _plain(r.created_at),
                        r.reason,
                    )
                    for r in conn.execute(select(t.refunds))
                ]
            ),
            "lots": _sorted(
                [
                    (
                        who[int(r.member_id)],
                        order_key.get(int(r.order_id)) if r.order_id is not None else None,
                        int(r.points),
                        int(r.remaining),
                        r.state,
                        _plain(r.earned_at),
                        _plain(r.available_at),
                        _plain(r.expires_at),
                    )
                    for r in conn.execute(select(t.lots))
                ]
            ),
            "coupons": _sorted(
                [
                    (
                        r.code,
                        who[int(r.member_id)],
                        r.reward_key,
                        r.kind,
                        r.value,
                        r.currency,
                        int(r.points_spent),
                        _plain(r.issued_at),
                        _plain(r.expires_at),
                        r.status,
                        _plain(r.redeemed_at),
                        r.redeemed_order,
                    )
                    for r in coupon_rows
                ]
            ),
            "journal": _sorted(
                [
                    (
                        r.idempotency_key,
                        r.kind,
                        who.get(int(r.member_id)) if r.member_id is not None else None,
                        _plain(r.occurred_at),
                        r.reason,
                        r.actor,
                    )
                    for r in conn.execute(select(t.journal))
                    if journal_kinds is None or r.kind in journal_kinds
                ]
            ),
        }
        if sync_tables:
            result["checkpoints"] = _sorted(
                [
                    (r.store, r.resource, r.position)
                    for r in conn.execute(select(t.sync_checkpoints))
                ]
            )
            result["locks"] = _sorted([(r.store,) for r in conn.execute(select(t.sync_locks))])
            result["quarantine"] = _sorted(
                [
                    (r.platform, r.store, r.resource, r.external_id, r.status, r.reason)
                    for r in conn.execute(select(t.quarantine))
                ]
            )
            result["store_pushes"] = _sorted(
                [
                    (r.store, who[int(r.member_id)], int(r.balance), r.tier)
                    for r in conn.execute(select(t.store_pushes))
                ]
            )
            result["coupon_pushes"] = _sorted(
                [
                    (coupon_code[int(r.coupon_id)], r.store, r.external_id)
                    for r in conn.execute(select(t.coupon_pushes))
                ]
            )
    assert len(order_key) == len(set(order_key.values()))
    return result


# --------------------------------------------------------------------------- 1. idempotent


def test_sync_twice_gives_the_identical_ledger(
    db: Db, programs: ProgramOpener, emulators: EmulatorFactory, store_name: str
) -> None:
    emu = emulators(200, seed=11)
    shop = emu.store
    program = programs(db)

    first = sync(program, emu, store_name)

    paid = [o for o in shop.orders() if o.status in PAID]
    assert first.fetched == 200
    assert first.awarded == len(paid) == count_orders(program)
    assert first.not_paid == sum(1 for o in shop.orders() if o.status in NOT_YET)
    assert first.refunds > 0 and first.points_reversed > 0
    assert first.quarantined == first.held == 0
    assert first.errors == []
    assert first.members_pushed > 0
    assert points_totals(program) == (first.points_awarded, first.points_reversed)
    after_first = dump(program)

    second = sync(program, emu, store_name)
    # Only the overlap at the checkpoint is fetched again, and it is a replay.
    assert 0 < second.fetched < 10
    assert (second.awarded, second.points_awarded, second.refunds, second.voided) == (0, 0, 0, 0)
    assert second.members_pushed == second.coupons_pushed == 0
    assert dump(program) == after_first

    backfill = sync(program, emu, store_name, backfill=True)
    assert backfill.fetched == 200
    assert backfill.awarded == backfill.refunds == backfill.points_reversed == 0
    assert backfill.replayed == first.awarded
    assert dump(program) == after_first
    assert program.verify().ok


# --------------------------------------------------------------------------- 2. SIGKILL


def _child_command(where: Db, emu: WooCommerceEmulator, name: str, now: datetime) -> list[str]:
    command = [
        sys.executable,
        str(CHILD),
        where.url,
        emu.url,
        emu.consumer_key,
        emu.consumer_secret,
        "--store",
        name,
        "--now",
        now.isoformat(),
        "--config",
        json.dumps(KILL_CONFIG),
    ]
    if where.schema:
        command += ["--schema", where.schema]
    return command


KILL_AFTER = 110  # orders recorded: past the first checkpoint (saved every 100 fetched)


@pytest.mark.slow
def test_sync_killed_midway_resumes_to_the_uninterrupted_ledger(
    db: Db,
    programs: ProgramOpener,
    emulators: EmulatorFactory,
    store_name: str,
    tmp_path: Path,
) -> None:
    emu = emulators(200, seed=21)
    # The uninterrupted reference, always on SQLite: the dumps are backend-neutral.
    reference = programs(Db(f"sqlite:///{tmp_path / 'reference.db'}"), config=KILL_CONFIG)
    expected = sync(reference, emu, store_name)
    assert expected.awarded > 150

    # The killed run "happened" just over a lock TTL ago, so that on SQLite its orphaned
    # lock row has expired by the time the restart runs at NOW.
    child_now = NOW - state.LOCK_TTL - timedelta(minutes=1)
    program = programs(db, config=KILL_CONFIG)  # migrates before the child opens it
    emu.faults.latency = 0.03  # slow the child down so it can be caught half-way
    child = subprocess.Popen(
        _child_command(db, emu, store_name, child_now),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        while count_orders(program) < KILL_AFTER:
            if child.poll() is not None:
                _, err = child.communicate(timeout=TIMEOUT)
                pytest.fail(f"the child ended before it could be killed: {err[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"the child did not record {KILL_AFTER} orders in time")
            time.sleep(0.005)
        child.send_signal(signal.SIGKILL)
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate(timeout=TIMEOUT)
    assert child.returncode == -signal.SIGKILL
    emu.faults.latency = 0.0

    recorded = count_orders(program)
    assert KILL_AFTER <= recorded < expected.awarded
    assert state.get_checkpoint(program.db, store_name, "orders") is not None
    # The dead run's lock: PostgreSQL drops the advisory lock with the connection; SQLite
    # keeps the row until it expires (LOCK_TTL after the dead run's start).
    if db.is_postgres:
        _acquire_soon(program, store_name, child_now)
    else:
        with pytest.raises(LockBusy), state.store_lock(program.db, store_name, child_now):
            pass

    # Awards made at the child's clock are still pending where the reference (at NOW)
    # made them available; the scheduled maintenance job at NOW converges them.
    program.expire_due()
    resumed = sync(program, emu, store_name)
    assert resumed.fetched < 200  # resumed from the checkpoint, not from scratch
    assert resumed.replayed > 0
    assert resumed.awarded == expected.awarded - recorded
    assert resumed.quarantined == resumed.held == 0

    reference.expire_due()
    kinds = {"award", "reversal"}  # the maintenance entries above exist on one side only
    assert dump(program, journal_kinds=kinds) == dump(reference, journal_kinds=kinds)
    assert count_orders(program) == expected.awarded
    assert program.verify().ok


def _acquire_soon(program: LoyaltyProgram, name: str, now: datetime) -> None:
    """Take and release the store lock, waiting briefly for the server to see a dead peer."""
    deadline = time.monotonic() + 10
    while True:
        try:
            with state.store_lock(program.db, name, now):
                return
        except LockBusy:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# --------------------------------------------------------------------------- 3. overlap


class _SyncStarted:
    """A plugin that signals when a run holds the lock and starts (``before_sync``)."""

    def __init__(self) -> None:
        self.event = threading.Event()

    @hookimpl
    def loyalty_before_sync(self, store: str, ctx: HookContext) -> None:
        self.event.set()


def test_overlapping_runs_of_one_store_are_refused_and_award_once(
    db: Db,
    programs: ProgramOpener,
    emulators: EmulatorFactory,
    store_name: str,
    tmp_path: Path,
) -> None:
    emu = emulators(200, seed=31)
    reference = programs(Db(f"sqlite:///{tmp_path / 'reference.db'}"))
    expected = sync(reference, emu, store_name)

    started = _SyncStarted()
    # Two cron jobs: each its own program (own connections) on the same database.
    runners = [programs(db, plugins=[started]) for _ in range(2)]
    emu.faults.latency = 0.03
    barrier = threading.Barrier(len(runners))
    outcomes: dict[int, RunSummary | BaseException] = {}

    def run(index: int) -> None:
        client = make_client(emu, store_name)
        barrier.wait(timeout=TIMEOUT)
        try:
            outcomes[index] = SyncEngine(runners[index], client).run()
        except BaseException as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(2)]
    for thread in threads:
        thread.start()
    try:
        assert started.event.wait(timeout=TIMEOUT)
        # While the winner holds the lock, a third run is refused at once.
        probe = programs(db)
        with pytest.raises(LockBusy):
            sync(probe, emu, store_name)
        assert any(thread.is_alive() for thread in threads), "the winner ended too early"
    finally:
        for thread in threads:
            thread.join(timeout=TIMEOUT)
    assert not any(thread.is_alive() for thread in threads)
    emu.faults.latency = 0.0

    refused = [o for o in outcomes.values() if isinstance(o, LockBusy)]
    finished = [o for o in outcomes.values() if isinstance(o, RunSummary)]
    assert len(refused) == 1 and len(finished) == 1, outcomes
    assert finished[0].awarded == expected.awarded == count_orders(runners[0])
    assert dump(runners[0]) == dump(reference)

    # The lock was released: the next run goes ahead and awards nothing twice.
    again = sync(probe, emu, store_name)
    assert again.awarded == again.refunds == 0
    assert dump(runners[0]) == dump(reference)
    assert runners[0].verify().ok


# --------------------------------------------------------------------------- 4. faults


FAULT_ORDERS = 150
FAULT_STORE = "shop-faults"  # SQLite only, so a fixed name is safe


@pytest.fixture(scope="module")
def clean_reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple[Any, ...]]]:
    """The dump of a fault-free sync of the shop used by the fault tests."""
    shop = generate_store(FAULT_ORDERS, seed=41, now=NOW)
    path = tmp_path_factory.mktemp("faults") / "reference.db"
    config = {**CONFIG, "program": {**CONFIG["program"], "database": f"sqlite:///{path}"}}
    with (
        WooCommerceEmulator(shop) as emu,
        LoyaltyProgram.open(config, clock=FixedClock(NOW), load_entrypoints=False) as reference,
    ):
        sync(reference, emu, FAULT_STORE)
        return dump(reference)


def test_throttling_and_5xx_bursts_are_retried_and_retry_after_honoured(
    programs: ProgramOpener,
    emulators: EmulatorFactory,
    tmp_path: Path,
    clean_reference: dict[str, list[tuple[Any, ...]]],
) -> None:
    emu = emulators(FAULT_ORDERS, seed=41)
    faults = emu.faults
    # First orders page: throttled (Retry-After: 1), then three 503s, then served (the 5th
    # attempt of max_attempts=5). Then one truncated JSON page each for products and for a
    # refund list, and a 502 on the idempotent customers batch update.
    faults.enqueue(status=429, count=1, retry_after=1, path="/orders")
    faults.enqueue(status=503, count=3, path="/orders")
    faults.enqueue(status=200, count=1, path="/products")
    faults.enqueue(status=200, count=1, path="/refunds")
    faults.enqueue(status=502, count=1, path="/customers/batch")
    program = programs(Db(f"sqlite:///{tmp_path / 'faulty.db'}"))
    client = make_client(emu, FAULT_STORE, max_attempts=5)

    summary = SyncEngine(program, client).run()

    stats = client.session.stats
    assert stats.retries == {"http_429": 1, "http_503": 3, "http_502": 1, "invalid_json": 2}
    assert stats.gave_up == stats.rate_limited == 0
    assert stats.slept_seconds >= 1.0  # the Retry-After, not a backoff of at most 0.05 s
    assert stats.attempts == stats.requests + 7 == emu.request_count
    served = emu.stats.by_status
    assert (served.get(429), served.get(503), served.get(502)) == (1, 3, 1)
    assert faults.queued == 0
    assert summary.errors == [] and summary.quarantined == 0
    assert dump(program) == clean_reference


@pytest.mark.parametrize("truncate_mode", ["json", "connection"])
def test_random_faults_cost_one_retry_each_and_change_nothing(
    truncate_mode: str,
    programs: ProgramOpener,
    emulators: EmulatorFactory,
    tmp_path: Path,
    clean_reference: dict[str, list[tuple[Any, ...]]],
) -> None:
    faults = EmulatorFaults(
        error_rate=0.2,
        error_statuses=(500, 502, 503, 504),
        throttle_every=7,
        retry_after=0,
        truncate_rate=0.15,
        truncate_mode="json" if truncate_mode == "json" else "connection",
        seed=5,
    )
    emu = emulators(FAULT_ORDERS, seed=41, faults=faults)
    program = programs(Db(f"sqlite:///{tmp_path / 'faulty.db'}"))
    client = make_client(emu, FAULT_STORE, max_attempts=10)

    summary = SyncEngine(program, client).run()

    stats = client.session.stats
    injected = sum(faults.injected.values())
    assert injected >= 8, faults.injected
    assert stats.total_retries == injected
    assert stats.gave_up == 0
    assert faults.injected.get("truncated", 0) > 0
    cause = "invalid_json" if truncate_mode == "json" else "incomplete_body"
    assert stats.retries.get(cause) == faults.injected["truncated"]
    assert summary.errors == [] and summary.quarantined == 0
    assert dump(program) == clean_reference


ORDERS_LIST = "/wp-json/wc/v3/orders"


class _OnOrdersPage(EmulatorFaults):
    """Fault knobs that run ``action`` when the emulator receives its ``nth`` orders-list
    request, before answering it (so whatever the client prefetches, the change is seen
    from that page on); ``action`` may return a canned response for that request."""

    def __init__(self, nth: int, action: Callable[[], FaultResponse | None]) -> None:
        super().__init__()
        # Own names: EmulatorFaults keeps its own request counter in ``_seen``.
        self._hook_nth = nth
        self._hook_action = action
        self._hook_seen = 0
        self._hook_lock = threading.Lock()

    def before(self, path: str) -> FaultResponse | Literal["truncate"] | None:
        if path == ORDERS_LIST:
            with self._hook_lock:
                self._hook_seen += 1
                hit = self._hook_seen == self._hook_nth
            if hit and (canned := self._hook_action()) is not None:
                return canned
        return super().before(path)


def test_a_demanded_wait_over_the_cap_stops_the_run_and_the_next_run_resumes(
    programs: ProgramOpener,
    emulators: EmulatorFactory,
    tmp_path: Path,
    clean_reference: dict[str, list[tuple[Any, ...]]],
) -> None:
    # The second orders page is answered 429 with a 30 s Retry-After (the cap is 5 s).
    faults = _OnOrdersPage(2, lambda: default_fault_response(429, retry_after=30))
    emu = emulators(FAULT_ORDERS, seed=41, faults=faults)
    program = programs(Db(f"sqlite:///{tmp_path / 'faulty.db'}"))
    client = make_client(emu, FAULT_STORE)  # max_retry_after=5

    started = time.monotonic()
    with pytest.raises(RateLimited) as raised:
        SyncEngine(program, client).run()
    assert time.monotonic() - started < 10  # raised at once, did not sleep 30 s
    assert raised.value.retry_after == 30
    assert client.session.stats.rate_limited == 1
    assert client.session.stats.slept_seconds == 0
    # Page 1 is recorded and checkpointed; the lock is released for the next run.
    assert 0 < count_orders(program) < FAULT_ORDERS
    assert state.get_checkpoint(program.db, FAULT_STORE, "orders") is not None
    assert dump(program)["locks"] == []

    resumed = sync(program, emu, FAULT_STORE)
    assert resumed.fetched < FAULT_ORDERS
    assert dump(program) == clean_reference


# --------------------------------------------------------------------------- 5. held refunds


def _paid_orders(shop: WooStore, *, count: int) -> list[int]:
    """Ids of paid orders of registered customers without refunds, worth at least 20."""
    found = [
        o.id
        for o in shop.orders()
        if o.status == "completed" and o.customer_id and not o.refunds and o.total >= 20
    ]
    assert len(found) >= count
    return found[-count:]


def test_refunds_arriving_before_their_order_are_held_then_released(
    db: Db, programs: ProgramOpener, emulators: EmulatorFactory, store_name: str
) -> None:
    clock = FixedClock(NOW)
    emu = emulators(120, seed=51, clock=clock)
    shop = emu.store
    program = programs(db, clock=clock)
    early, webhook_only = _paid_orders(shop, count=2)

    # A refund the store has (as a refund webhook would bring it, before any sync)...
    shop.refund_order(early, amount=Decimal("10.00"), reason="damaged", fire=False)
    client = make_client(emu, store_name)
    listed = client.api.get_json(f"orders/{early}/refunds").data
    in_store = mapping.map_refund(listed[0], store_name, str(early), "EUR")
    # ...and one known only from its delivery (the store lists no refund for that order).
    delivered_only = RefundSnapshot(
        mapping.PLATFORM,
        store_name,
        str(webhook_only),
        "990001",
        Money.of("7.50", "EUR"),
        NOW - timedelta(hours=1),
        "goodwill",
    )
    before = SyncEngine(program, client)
    for refund in (in_store, delivered_only, in_store):  # a redelivery changes nothing
        before.record_refund(refund)
    assert before.summary.held == 3
    held = state.list_quarantine(program.db, store=store_name, statuses=("held",))
    assert sorted((q.resource, q.external_id) for q in held) == sorted(
        ("refund", r.key) for r in (in_store, delivered_only)
    )
    assert {q.attempts for q in held if q.external_id == in_store.key} == {2}
    assert count_orders(program) == 0

    summary = sync(program, emu, store_name)

    assert summary.released == 2
    assert state.list_quarantine(program.db, store=store_name, statuses=("held",)) == []
    resolved = state.list_quarantine(program.db, store=store_name, statuses=("resolved",))
    assert len(resolved) == 2
    for order_id, amount in ((early, 1000), (webhook_only, 750)):
        row = order_row(program, store_name, order_id)
        assert row.refunded_minor == amount
        assert row.points_reversed == row.points_awarded * amount // row.total_minor > 0
    settled = dump(program)
    again = sync(program, emu, store_name)
    assert again.released == again.refunds == again.held == 0
    assert dump(program) == settled
    assert program.verify().ok


# --------------------------------------------------------------------------- 6. cancellations


def test_an_awarded_order_cancelled_later_is_voided_on_the_next_sync(
    db: Db, programs: ProgramOpener, emulators: EmulatorFactory, store_name: str
) -> None:
    clock = FixedClock(NOW)
    emu = emulators(120, seed=61, clock=clock)
    shop = emu.store
    program = programs(db, clock=clock)
    processing = next(
        o.id for o in shop.orders() if o.status == "processing" and o.customer_id and not o.refunds
    )
    (partly_refunded,) = _paid_orders(shop, count=1)

    first = sync(program, emu, store_name)
    assert first.awarded > 0
    awarded = order_row(program, store_name, processing)
    assert awarded.points_awarded > 0 and awarded.points_reversed == 0
    member = int(awarded.member_id)
    balance = program.balance(member)

    clock.advance(hours=1)
    shop.set_order_status(processing, "cancelled")  # bumps date_modified
    shop.refund_order(partly_refunded, amount=Decimal("5.00"), reason="late")
    clock.advance(minutes=5)
    shop.set_order_status(partly_refunded, "cancelled")
    second = sync(program, emu, store_name)

    assert second.fetched <= 5  # the two changed orders, plus the overlap
    assert second.voided == 2
    assert second.refunds == 1
    cancelled = order_row(program, store_name, processing)
    assert cancelled.points_reversed == cancelled.points_awarded
    assert cancelled.refunded_minor == cancelled.total_minor
    refunded = order_row(program, store_name, partly_refunded)
    assert refunded.points_reversed == refunded.points_awarded
    assert refunded.refunded_minor == refunded.total_minor
    assert second.points_reversed == cancelled.points_awarded + refunded.points_awarded
    after = program.balance(member)
    net_before = balance.available + balance.pending + balance.debt
    net_after = after.available + after.pending + after.debt
    reversed_here = cancelled.points_awarded + (
        refunded.points_awarded if int(refunded.member_id) == member else 0
    )
    assert net_before - net_after == reversed_here
    with program.db.read() as conn:
        voids = conn.execute(
            select(t.refunds.c.source_key).where(t.refunds.c.source_key.like("%:void"))
        ).all()
    assert len(voids) == 2

    settled = dump(program)
    third = sync(program, emu, store_name)
    assert third.voided == third.refunds == 0
    assert dump(program) == settled
    assert program.verify().ok


# --------------------------------------------------------------------------- 7. pushes


def test_reward_coupons_and_balances_are_pushed_and_coupon_use_read_back(
    db: Db, programs: ProgramOpener, emulators: EmulatorFactory, store_name: str
) -> None:
    clock = FixedClock(NOW)
    emu = emulators(80, seed=71, clock=clock)
    shop = emu.store
    program = programs(db, clock=clock)

    first = sync(program, emu, store_name)
    assert first.members_pushed > 0 and first.coupons_pushed == 0
    pushed = [(program.member(m), int(customer)) for customer, m in _refs(program, store_name)]
    assert len(pushed) == first.members_pushed
    for member, customer_id in pushed:
        balance = program.balance(member.id)
        assert customer_meta(shop, customer_id, "loyalty_points") == str(balance.available)
        assert customer_meta(shop, customer_id, "loyalty_tier") == (member.tier or "")
    batch_updates = emu.stats.by_route.get("POST customers/batch", 0)
    assert batch_updates == -(-first.members_pushed // 100)

    # Nothing changed: nothing is pushed again.
    unchanged = sync(program, emu, store_name)
    assert unchanged.members_pushed == unchanged.coupons_pushed == 0
    assert emu.stats.by_route.get("POST customers/batch", 0) == batch_updates

    member, customer_id = max(pushed, key=lambda mc: program.balance(mc[0].id).available)
    assert member.email and program.balance(member.id).available >= 100
    coupon = program.redeem(member.id, "5-off", idempotency_key="e2e-coupon")
    pushing = sync(program, emu, store_name)
    assert pushing.coupons_pushed == 1
    assert pushing.members_pushed == 1  # the redemption changed this balance only
    in_store = shop.find_coupon(coupon.code)
    assert in_store is not None
    assert in_store.email_restrictions == [member.email.lower()]
    assert (in_store.usage_limit, in_store.usage_limit_per_user) == (1, 1)
    assert in_store.discount_type == "fixed_cart" and in_store.amount == Decimal("5.00")
    assert in_store.date_expires is not None
    assert in_store.date_expires.aware == coupon.expires_at.replace(microsecond=0)
    assert customer_meta(shop, customer_id, "loyalty_points") == str(
        program.balance(member.id).available
    )

    with pytest.raises(CouponNotUsableError):  # restricted to the member's e-mail
        emu.redeem_coupon(coupon.code, "someone.else@example.com")
    emu.redeem_coupon(coupon.code, member.email)
    reading = sync(program, emu, store_name)
    assert reading.coupons_redeemed == 1 and reading.coupons_pushed == 0
    (redeemed,) = program.coupons(member.id)
    assert redeemed.status is CouponStatus.REDEEMED
    with program.db.read() as conn:
        used_in = conn.execute(
            select(t.coupons.c.redeemed_order).where(t.coupons.c.code == coupon.code)
        ).scalar_one()
    assert used_in == f"{mapping.PLATFORM}:{store_name}:{customer_id}"

    settled = dump(program)
    quiet = sync(program, emu, store_name)
    assert (quiet.coupons_pushed, quiet.coupons_redeemed, quiet.members_pushed) == (0, 0, 0)
    assert dump(program) == settled
    assert program.verify().ok


def _refs(program: LoyaltyProgram, name: str) -> list[tuple[str, int]]:
    mr = t.member_refs.c
    with program.db.read() as conn:
        return [
            (str(e), int(m))
            for e, m in conn.execute(
                select(mr.external_id, mr.member_id).where(
                    mr.store == name, ~mr.external_id.startswith("email:")
                )
            )
        ]


# --------------------------------------------------------------------------- 8. dry run


def test_dry_run_changes_nothing_and_since_limits_what_is_fetched(
    programs: ProgramOpener, emulators: EmulatorFactory, store_name: str, tmp_path: Path
) -> None:
    clock = FixedClock(NOW)
    emu = emulators(200, seed=81, clock=clock)
    shop = emu.store
    program = programs(Db(f"sqlite:///{tmp_path / 'loyalty.db'}"), clock=clock)
    orders = shop.orders()

    empty = dump(program)
    dry = SyncEngine(program, make_client(emu, store_name), dry_run=True).run()
    assert dry.dry_run
    assert dry.fetched == len(orders)
    assert dry.not_paid == sum(1 for o in orders if o.status in NOT_YET)
    assert dry.checkpoint == max(o.date_modified.aware for o in orders).isoformat()
    assert dry.awarded == dry.members_pushed == dry.coupons_pushed == 0
    assert dump(program) == empty
    assert state.get_checkpoint(program.db, store_name, "orders") is None
    assert not any(route.startswith("POST") for route in emu.stats.by_route)

    # since=: only orders modified after (since - OVERLAP) are fetched and recorded.
    since = sorted(o.date_modified.aware for o in orders)[len(orders) // 2]
    expected = {o.id for o in orders if o.date_modified.aware > since - OVERLAP}
    partial = sync(program, emu, store_name, since=since)
    assert partial.fetched == len(expected) < len(orders)
    with program.db.read() as conn:
        recorded = {int(x) for x in conn.execute(select(t.orders.c.external_id)).scalars()}
    assert recorded == {o.id for o in orders if o.id in expected and o.status in PAID}

    # A dry run over real state: the cancellation it sees is reported, not applied.
    victim = next(iter(sorted(recorded)))
    clock.advance(hours=1)
    shop.set_order_status(victim, "cancelled")
    garbage = next(o for o in orders if o.status in PAID and o.id not in recorded)
    with shop.lock:
        garbage.line_items[0].total = Decimal("-1.00")
    settled = dump(program)
    dry_again = SyncEngine(program, make_client(emu, store_name), dry_run=True).run(backfill=True)
    assert dry_again.fetched == len(orders)
    assert dry_again.voided == 0 and dry_again.quarantined == 1
    assert dump(program) == settled
    assert state.list_quarantine(program.db) == []


# --------------------------------------------------------------------------- 9. quarantine


def test_an_unmappable_order_is_quarantined_with_its_reason_and_the_run_goes_on(
    programs: ProgramOpener, emulators: EmulatorFactory, store_name: str, tmp_path: Path
) -> None:
    clock = FixedClock(NOW)
    emu = emulators(150, seed=91, clock=clock)
    shop = emu.store
    reference = programs(Db(f"sqlite:///{tmp_path / 'reference.db'}"), clock=clock)
    expected = sync(reference, emu, store_name)

    program = programs(Db(f"sqlite:///{tmp_path / 'loyalty.db'}"), clock=clock)
    broken = next(o for o in shop.orders() if o.status in PAID and not o.refunds)
    good_total = broken.line_items[0].total
    with shop.lock:
        broken.line_items[0].total = Decimal("-12.34")

    summary = sync(program, emu, store_name)

    assert summary.quarantined == 1
    assert summary.fetched == 150
    assert summary.awarded == expected.awarded - 1
    (item,) = state.list_quarantine(program.db, store=store_name)
    assert (item.resource, item.external_id, item.status) == ("order", str(broken.id), "open")
    assert "line_items[0].total" in item.reason and "negative" in item.reason
    assert json.loads(item.payload)["id"] == broken.id
    with program.db.read() as conn:
        recorded = set(conn.execute(select(t.orders.c.external_id)).scalars())
    with reference.db.read() as conn:
        assert set(conn.execute(select(t.orders.c.external_id)).scalars()) == recorded | {
            str(broken.id)
        }

    # Fixed in the store (saving the order bumps date_modified): the next run records it.
    with shop.lock:
        broken.line_items[0].total = good_total
    clock.advance(hours=1)
    shop.touch_order(broken.id)
    fixed = sync(program, emu, store_name)
    assert fixed.awarded == 1 and fixed.quarantined == 0
    ledger = dump(program, sync_tables=False)
    assert ledger == dump(reference, sync_tables=False)
    assert program.verify().ok


# --------------------------------------------------------------------------- edits mid-way


def test_an_order_modified_during_a_run_does_not_hide_another(
    programs: ProgramOpener, emulators: EmulatorFactory, store_name: str, tmp_path: Path
) -> None:
    """Paging by page number over ``orderby=modified`` would skip the order that moves up
    into the page already read when an earlier one changes mid-run; keyset paging must not."""
    clock = FixedClock(NOW)
    shop = generate_store(150, seed=41, now=NOW, clock=clock)
    oldest = min(shop.orders(), key=lambda o: (o.date_modified.local, o.id)).id

    def an_admin_saves_the_oldest_order() -> None:
        clock.advance(minutes=1)
        shop.touch_order(oldest)

    emu = WooCommerceEmulator(shop, faults=_OnOrdersPage(2, an_admin_saves_the_oldest_order))
    program = programs(Db(f"sqlite:///{tmp_path / 'loyalty.db'}"), clock=clock)
    with emu:
        sync(program, emu, store_name)
        with program.db.read() as conn:
            recorded = {int(x) for x in conn.execute(select(t.orders.c.external_id)).scalars()}
        assert recorded == {o.id for o in shop.orders() if o.status in PAID}
        settled = dump(program, sync_tables=False)
        again = sync(program, emu, store_name)  # the next cron run
        assert again.awarded == 0
        assert dump(program, sync_tables=False) == settled


@pytest.mark.parametrize("edit", ["email", "line"])
def test_a_refund_of_an_order_edited_after_payment_is_still_reversed(
    edit: str,
    programs: ProgramOpener,
    emulators: EmulatorFactory,
    store_name: str,
    tmp_path: Path,
) -> None:
    """An edit after payment (an e-mail typo fixed; a line discounted, which changes the
    award's request hash) keeps the award as first recorded, and the order's refunds still
    reverse it."""
    clock = FixedClock(NOW)
    emu = emulators(60, seed=5, clock=clock)
    shop = emu.store
    program = programs(Db(f"sqlite:///{tmp_path / 'loyalty.db'}"), clock=clock)
    sync(program, emu, store_name)
    (edited,) = _paid_orders(shop, count=1)
    awarded = order_row(program, store_name, edited).points_awarded

    clock.advance(hours=1)
    if edit == "email":
        shop.update_order(edited, {"billing": {"email": "corrected@example.com"}})
    else:
        order = shop.get_order(edited)
        assert order is not None
        with shop.lock:
            order.line_items[0].total -= Decimal("1.00")
        shop.touch_order(edited)
    clock.advance(hours=1)
    shop.refund_order(edited, amount=Decimal("5.00"), reason="late delivery")
    summary = sync(program, emu, store_name)

    expected_edited = 1 if edit == "line" else 0
    assert (summary.edited, summary.refunds, summary.quarantined) == (expected_edited, 1, 0)
    row = order_row(program, store_name, edited)
    assert (row.points_awarded, row.refunded_minor) == (awarded, 500)
    assert row.points_reversed == row.points_awarded * 500 // row.total_minor
    assert program.verify().ok
