"""Ledger ingest: ``record_order`` throughput against a raw-SQL baseline, same run.

The baseline writes, with hand-written SQL through the bare DB-API driver, the same rows
one awarded order leaves in the ledger (journal entry, order, lot, transfer, balance
update, two outbox events), one transaction per order, on the same database and settings.
The ratio ``record_order / baseline`` shows what our checks, hooks and idempotency cost on
top of the database's own work. Target: >= 0.5 on SQLite and PostgreSQL.

Commit latency (fsync) drifts over seconds on shared disks, so the two sides run in
alternating rounds and the reported ratio is the median of the per-round ratios.

Usage: python benchmarks/ledger_ingest.py [--orders N] [--rounds R] [--postgres URL] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.builders import order  # noqa: E402

from loyalty_plugins.clock import FixedClock  # noqa: E402
from loyalty_plugins.program import LoyaltyProgram  # noqa: E402

START = datetime(2026, 1, 5, tzinfo=UTC)
TARGET = 0.5
Ingest = Callable[[int, int], None]  # (first order number, count)


def _program(url: str, schema: str | None, customers: int) -> LoyaltyProgram:
    config = {"program": {"database": url, "currency": "EUR"}}
    program = LoyaltyProgram.open(
        config, clock=FixedClock(START), load_entrypoints=False, schema=schema
    )
    for c in range(customers):  # enrol first: we measure awards, not enrolment
        program.record_order(order(f"warm{c}", "1.00", START, cid=str(c)))
    return program


def program_ingest(program: LoyaltyProgram, customers: int, orders: int) -> Ingest:
    # Snapshots come from the adapters' mapping in real use: built before timing starts.
    snapshots = [
        order(str(i), "42.50", START - timedelta(minutes=i), cid=str(i % customers))
        for i in range(orders)
    ]

    def ingest(first: int, count: int) -> None:
        for snapshot in snapshots[first : first + count]:
            program.record_order(snapshot)

    return ingest


# The baseline writes the same content as an award does, not empty placeholders, so both
# sides put the same bytes through the database.
RULE_JSON = json.dumps(
    {
        "rule_id": "default",
        "points_per_unit": "1",
        "currency": "EUR",
        "rounding": "down",
        "minimum_order": "0",
        "multiplier": "1",
        "bonuses": [],
    }
)


def event_json(i: int) -> str:
    return json.dumps(
        {"order": f"woocommerce:shop:{i}", "points": 42, "total": "42.50", "currency": "EUR"}
    )


def raw_ingest(program: LoyaltyProgram) -> Ingest:
    """The same rows per order with bare driver SQL, one transaction per order."""
    with program.db.read() as conn:
        accounts = {
            int(m): int(a)
            for m, a in conn.execute(
                text("SELECT member_id, id FROM accounts WHERE kind = 'pending'")
            )
        }
        issued = conn.execute(text("SELECT id FROM accounts WHERE kind = 'issued'")).scalar_one()
    raw = program.db.engine.raw_connection()
    sqlite = program.db.dialect == "sqlite"
    p = "?" if sqlite else "%s"
    returning = "" if sqlite else " RETURNING id"
    now = START.replace(tzinfo=None) if sqlite else START
    cur = raw.cursor()
    members = sorted(accounts)

    def new_id() -> int:
        return int(cur.lastrowid if sqlite else cur.fetchone()[0])

    def ingest(first: int, count: int) -> None:
        for i in range(first, first + count):
            member = members[i % len(members)]
            if sqlite:
                cur.execute("BEGIN IMMEDIATE")
            cur.execute(
                "INSERT INTO journal (idempotency_key, request_hash, kind, member_id, occurred_at,"
                f" recorded_at, result) VALUES ({p},{p},{p},{p},{p},{p},{p}){returning}",
                (
                    f"woocommerce:raw:{i}:award",
                    "0" * 64,
                    "award",
                    member,
                    now,
                    now,
                    json.dumps({"member_id": member, "points": 42}),
                ),
            )
            journal = new_id()
            cur.execute(
                "INSERT INTO orders (source_key, member_id, platform, store, external_id, currency,"
                " total_minor, qualifying_minor, refunded_minor, net_qualifying_minor,"
                " points_awarded, points_reversed, points_forgiven, rule, paid_at, journal_id)"
                f" VALUES ({','.join([p] * 16)}){returning}",
                (
                    f"raw:{i}",
                    member,
                    "woocommerce",
                    "shop",
                    str(i),
                    "EUR",
                    4250,
                    4250,
                    0,
                    4250,
                    42,
                    0,
                    0,
                    "{}",
                    now,
                    journal,
                ),
            )
            order_id = new_id()
            cur.execute(
                "INSERT INTO lots (member_id, journal_id, order_id, points, remaining, state,"
                f" earned_at, available_at) VALUES ({','.join([p] * 8)}){returning}",
                (member, journal, order_id, 42, 42, "pending", now, now),
            )
            lot = new_id()
            cur.execute(
                "INSERT INTO transfers (journal_id, source_id, destination_id, amount, lot_id, memo)"
                f" VALUES ({','.join([p] * 6)})",
                (journal, issued, accounts[member], 42, lot, "earn"),
            )
            cur.execute(
                f"UPDATE accounts SET balance = balance + 42 WHERE id = {p}", (accounts[member],)
            )
            cur.executemany(
                "INSERT INTO outbox (kind, member_id, occurred_at, data, dispatched_at)"
                f" VALUES ({','.join([p] * 5)})",
                [
                    (kind, member, now, event_json(i), now)
                    for kind in ("order_paid", "points_earned")
                ],
            )
            if sqlite:
                cur.execute("COMMIT")
            else:
                raw.commit()

    return ingest


def measure(ours: Ingest, baseline: Ingest, orders: int, rounds: int) -> dict[str, float]:
    per_round = max(1, orders // rounds)
    ratios, ours_rates, base_rates = [], [], []
    for r in range(rounds):
        first = r * per_round
        began = time.perf_counter()
        ours(first, per_round)
        ours_rate = per_round / (time.perf_counter() - began)
        began = time.perf_counter()
        baseline(first, per_round)
        base_rate = per_round / (time.perf_counter() - began)
        ours_rates.append(ours_rate)
        base_rates.append(base_rate)
        ratios.append(ours_rate / base_rate)
    return {
        "record_order_per_s": statistics.median(ours_rates),
        "raw_sql_per_s": statistics.median(base_rates),
        "ratio": statistics.median(ratios),
    }


@contextmanager
def databases(kind: str, pg_url: str | None) -> Iterator[tuple[tuple[str, str | None], ...]]:
    """Two fresh databases (ours, baseline) of one backend."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield (f"sqlite:///{tmp}/ours.db", None), (f"sqlite:///{tmp}/raw.db", None)
        return
    assert pg_url is not None
    admin = create_engine(pg_url)
    schemas = [f"bench_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    with admin.begin() as conn:
        for schema in schemas:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield tuple((pg_url, schema) for schema in schemas)
    finally:
        with admin.begin() as conn:
            for schema in schemas:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def run_backend(
    kind: str, pg_url: str | None, orders: int, rounds: int, customers: int
) -> dict[str, Any]:
    with databases(kind, pg_url) as ((ours_url, ours_schema), (raw_url, raw_schema)):
        ours = _program(ours_url, ours_schema, customers)
        base = _program(raw_url, raw_schema, customers)
        try:
            row = measure(program_ingest(ours, customers, orders), raw_ingest(base), orders, rounds)
            if not ours.verify().ok:
                raise SystemExit("ledger verify failed after the benchmark")
        finally:
            ours.close()
            base.close()
    return {"backend": kind, **row}


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--postgres", default=os.environ.get("LOYALTY_TEST_DATABASE_URL"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = [run_backend("sqlite", None, args.orders, args.rounds, args.customers)]
    if args.postgres:
        rows.append(
            run_backend("postgresql", args.postgres, args.orders, args.rounds, args.customers)
        )
    else:
        print("PostgreSQL skipped: pass --postgres URL or set LOYALTY_TEST_DATABASE_URL")
    print(
        f"{'backend':<12}{'record_order/s':>16}{'raw SQL/s':>12}{'ratio':>8}  (target >= {TARGET})"
    )
    for row in rows:
        print(
            f"{row['backend']:<12}{row['record_order_per_s']:>16.0f}"
            f"{row['raw_sql_per_s']:>12.0f}{row['ratio']:>8.2f}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0 if all(row["ratio"] >= TARGET for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
