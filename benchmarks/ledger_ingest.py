"""Ledger ingest: ``record_order`` throughput against a raw-SQL baseline, same run.

The baseline writes, with hand-written SQL through the bare DB-API driver, the same rows
one awarded order leaves in the ledger (journal entry, order, lot, transfer, balance
update, two outbox events), one transaction per order, on the same database settings.
The ratio ``record_order / baseline`` shows what our checks, hooks and idempotency cost
on top of the database's own work. Target: >= 0.5 on SQLite and PostgreSQL.

Usage: python benchmarks/ledger_ingest.py [--orders N] [--postgres URL] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.builders import order  # noqa: E402

from loyalty_plugins.clock import FixedClock  # noqa: E402
from loyalty_plugins.program import LoyaltyProgram  # noqa: E402

START = datetime(2026, 1, 5, tzinfo=UTC)
TARGET = 0.5


def _program(url: str, schema: str | None) -> LoyaltyProgram:
    config = {"program": {"database": url, "currency": "EUR"}}
    return LoyaltyProgram.open(
        config, clock=FixedClock(START), load_entrypoints=False, schema=schema
    )


def bench_program(url: str, schema: str | None, n: int, customers: int) -> float:
    program = _program(url, schema)
    snapshots = [
        order(str(i), "42.50", START - timedelta(minutes=i), cid=str(i % customers))
        for i in range(n)
    ]
    for c in range(customers):  # enrol first: we measure awards, not enrolment
        program.record_order(order(f"warm{c}", "1.00", START, cid=str(c)))
    began = time.perf_counter()
    for snapshot in snapshots:
        program.record_order(snapshot)
    elapsed = time.perf_counter() - began
    assert program.verify().ok
    program.close()
    return n / elapsed


def bench_raw(url: str, schema: str | None, n: int, customers: int) -> float:
    """The same rows per order with bare driver SQL, one transaction per order."""
    program = _program(url, schema)  # migrated schema, members and accounts
    for c in range(customers):
        program.record_order(order(f"warm{c}", "1.00", START, cid=str(c)))
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
    now = START.replace(tzinfo=None) if sqlite else START
    cur = raw.cursor()
    member_ids = sorted(accounts)
    began = time.perf_counter()
    for i in range(n):
        member = member_ids[i % customers]
        if sqlite:
            cur.execute("BEGIN IMMEDIATE")
        key = f"raw:{i}:award"
        sql = (
            f"INSERT INTO journal (idempotency_key, request_hash, kind, member_id, occurred_at, recorded_at, result) "
            f"VALUES ({p},{p},{p},{p},{p},{p},{p})"
        )
        cur.execute(
            sql + (" RETURNING id" if not sqlite else ""),
            (key, "h", "award", member, now, now, "{}"),
        )
        journal = cur.fetchone()[0] if not sqlite else cur.lastrowid
        cur.execute(
            f"INSERT INTO orders (source_key, member_id, platform, store, external_id, currency, total_minor, "
            f"qualifying_minor, refunded_minor, net_qualifying_minor, points_awarded, points_reversed, points_forgiven, "
            f"rule, paid_at, journal_id) VALUES ({p},{p},{p},{p},{p},{p},{p},{p},{p},{p},{p},{p},{p},{p},{p},{p})"
            + (" RETURNING id" if not sqlite else ""),
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
        order_id = cur.fetchone()[0] if not sqlite else cur.lastrowid
        cur.execute(
            f"INSERT INTO lots (member_id, journal_id, order_id, points, remaining, state, earned_at, available_at) "
            f"VALUES ({p},{p},{p},{p},{p},{p},{p},{p})" + (" RETURNING id" if not sqlite else ""),
            (member, journal, order_id, 42, 42, "pending", now, now),
        )
        lot = cur.fetchone()[0] if not sqlite else cur.lastrowid
        cur.execute(
            f"INSERT INTO transfers (journal_id, source_id, destination_id, amount, lot_id, memo) VALUES ({p},{p},{p},{p},{p},{p})",
            (journal, issued, accounts[member], 42, lot, "earn"),
        )
        cur.execute(
            f"UPDATE accounts SET balance = balance + 42 WHERE id = {p}", (accounts[member],)
        )
        for kind in ("order_paid", "points_earned"):
            cur.execute(
                f"INSERT INTO outbox (kind, member_id, occurred_at, data, dispatched_at) VALUES ({p},{p},{p},{p},{p})",
                (kind, member, now, "{}", now),
            )
        if sqlite:
            cur.execute("COMMIT")
        else:
            raw.commit()
    elapsed = time.perf_counter() - began
    raw.close()
    program.close()
    return n / elapsed


def pg_schema(url: str) -> tuple[str, Any]:
    from sqlalchemy import create_engine

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    return schema, engine


def drop_schema(engine: Any, schema: str) -> None:
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--postgres", default=os.environ.get("LOYALTY_TEST_DATABASE_URL"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        a, b = f"sqlite:///{tmp}/p.db", f"sqlite:///{tmp}/r.db"
        rows.append(
            {
                "backend": "sqlite",
                "record_order": bench_program(a, None, args.orders, args.customers),
                "raw_sql": bench_raw(b, None, args.orders, args.customers),
            }
        )
    if args.postgres:
        for fn, label in ((bench_program, "record_order"), (bench_raw, "raw_sql")):
            schema, engine = pg_schema(args.postgres)
            try:
                value = fn(args.postgres, schema, args.orders, args.customers)
            finally:
                drop_schema(engine, schema)
            if label == "record_order":
                rows.append({"backend": "postgresql", label: value})
            else:
                rows[-1][label] = value
    else:
        print("PostgreSQL skipped: pass --postgres URL or set LOYALTY_TEST_DATABASE_URL")
    print(f"{'backend':<12}{'record_order/s':>16}{'raw SQL/s':>12}{'ratio':>8}  target >= {TARGET}")
    ok = True
    for row in rows:
        row["ratio"] = row["record_order"] / row["raw_sql"]
        ok = ok and row["ratio"] >= TARGET
        print(
            f"{row['backend']:<12}{row['record_order']:>16.0f}{row['raw_sql']:>12.0f}{row['ratio']:>8.2f}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
