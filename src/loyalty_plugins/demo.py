"""``loyalty demo``: replay a realistic year of a WooCommerce shop into a fresh database.

It starts the bundled WooCommerce store emulator (a real HTTP server on loopback) and
runs the real sync against it: orders and refunds into a new SQLite program, then the
cron jobs (expiry, tiers), rewards redeemed for members who can afford one, a second sync
that pushes the coupons and balances to the store, three shoppers using their coupons in
the store, and a third sync that reads that back. The real example orders from the vendor
docs are replayed too when they are beside the checkout. It ends with ``ledger verify``.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from loyalty_plugins.clock import FixedClock
from loyalty_plugins.config import ProgramConfig, load_config
from loyalty_plugins.errors import InsufficientPoints, LoyaltyError
from loyalty_plugins.program import LoyaltyProgram
from loyalty_plugins.starter import write_starter_config
from loyalty_plugins.sync.engine import RunSummary, SyncEngine
from loyalty_plugins.sync.http import HttpPolicy, PolicySession
from loyalty_plugins.testing.woocommerce import WooCommerceEmulator, generate_store
from loyalty_woocommerce import mapping
from loyalty_woocommerce.client import WooCommerceClient, WooCommerceStore

DEMO_NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
STORE = "demo-shop"
REAL_FIXTURES = (
    Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "real" / "woocommerce"
)


def _record_real_fixtures(out: Path, clock: FixedClock, console: Console) -> int:
    """The vendor docs' "List all orders" example (USD) replayed into a USD program."""
    path = REAL_FIXTURES / "orders-list.json"
    if not path.exists():
        console.print("[dim]real fixtures not found beside the checkout; skipped[/dim]")
        return 0
    config = ProgramConfig(currency="USD", database=f"sqlite:///{out / 'docs-example.db'}")
    recorded = 0
    with LoyaltyProgram(config, clock=clock) as program:
        for payload in json.loads(path.read_text()):
            snapshot = mapping.map_order(payload, "docs-example")
            if snapshot is None:
                continue
            result = program.record_order(snapshot)
            recorded += 1
            for refund in mapping.map_embedded_refunds(payload, "docs-example"):
                reversed_ = program.record_refund(refund).points_reversed
                console.print(
                    f"docs order {snapshot.order_id}: refund {refund.refund_id} "
                    f"({refund.amount}) reversed {reversed_} points"
                )
            if result.member_id is not None:
                balance = program.balance(result.member_id)
                console.print(
                    f"docs order {snapshot.order_id} ({snapshot.raw_status}, {snapshot.total}): "
                    f"member {result.member_id} holds {balance.available} available, "
                    f"{balance.pending} pending"
                )
        if not program.verify().ok:
            raise LoyaltyError("docs example ledger does not verify")
    return recorded


def run_demo(out: Path, *, orders: int = 1500, console: Console | None = None) -> bool:
    """Run the demo into ``out`` (recreated); True when the ledger verifies."""
    console = console or Console()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    config_path = out / "loyalty.toml"
    write_starter_config(config_path, database="sqlite:///loyalty.db", currency="EUR")
    config = load_config(config_path)
    clock = FixedClock(DEMO_NOW)
    store = generate_store(orders, seed=2026, now=DEMO_NOW, currency="EUR")
    console.rule("[bold]loyalty_plugins demo")
    console.print(
        f"store emulator: {orders} orders over a year; program database: {config.database}"
    )
    with WooCommerceEmulator(store) as emu, LoyaltyProgram(config, clock=clock) as program:
        client = WooCommerceClient(
            WooCommerceStore(STORE, emu.url, emu.consumer_key, emu.consumer_secret),
            policy=HttpPolicy(connect_timeout=2, read_timeout=10),
        )
        first = SyncEngine(program, client).run()
        console.print(f"first sync: {_line(first)}")
        docs_orders = _record_real_fixtures(out, clock, console)
        expiry = program.expire_due()
        tiers = program.evaluate_tiers()
        issued = 0
        for member, available in program.members(limit=10_000):
            if available >= 500:
                try:
                    program.redeem(member.id, "5-off", idempotency_key=f"demo:{member.id}")
                    issued += 1
                except InsufficientPoints:
                    pass
        second = SyncEngine(program, client).run()
        console.print(f"second sync (pushes coupons and balances): {_line(second)}")
        used = 0
        for coupon in program.coupons()[:3]:  # three shoppers use their reward in the store
            member = program.member(coupon.member_id)
            if member.email:
                emu.redeem_coupon(coupon.code, member.email)
                used += 1
        third = SyncEngine(program, client).run()
        console.print(f"third sync (reads coupon use back): {_line(third)}")
        counts = Counter(
            {
                "docs orders": docs_orders,
                "coupons used in store": used,
                "coupons marked redeemed": third.coupons_redeemed,
            }
        )
        _report(
            program,
            console,
            first,
            counts,
            expiry.expired_points,
            tiers.evaluated,
            issued,
            client.session,
        )
        report = program.verify()
    if report.ok:
        console.print(
            f"[green]ledger verify: ok[/green] ({report.accounts} accounts, {report.transfers} transfers)"
        )
    else:
        for problem in report.problems:
            console.print(f"[red]ledger problem:[/red] {problem}")
    console.print(f"explore it: loyalty members list --config {config_path}")
    return report.ok


def _line(summary: RunSummary) -> str:
    return (
        f"{summary.fetched} fetched, {summary.awarded} awarded, {summary.replayed} already known, "
        f"{summary.refunds} refunds, {summary.quarantined} quarantined, "
        f"{summary.coupons_pushed} coupons and {summary.members_pushed} balances pushed, "
        f"{summary.coupons_redeemed} coupons redeemed"
    )


def _report(
    program: LoyaltyProgram,
    console: Console,
    first: RunSummary,
    counts: Counter[str],
    expired: int,
    evaluated: int,
    issued: int,
    session: PolicySession,
) -> None:
    summary = Table("what", "count", title="first sync and cron jobs")
    rows = [
        ("orders fetched", first.fetched),
        ("awarded", first.awarded),
        ("not paid yet", first.not_paid),
        ("cancelled before earning", first.skipped),
        ("quarantined", first.quarantined),
        ("refunds", first.refunds),
        ("points awarded", first.points_awarded),
        ("points reversed", first.points_reversed),
        ("points expired", expired),
        ("tiers evaluated", evaluated),
        ("reward coupons issued", issued),
        *counts.items(),
    ]
    for key, value in rows:
        summary.add_row(key, str(value))
    summary.add_row("HTTP", session.stats.summary())
    console.print(summary)
    members = program.members(limit=100_000)
    tiers = Counter(m.tier or "-" for m, _ in members)
    console.print("tiers: " + ", ".join(f"{k}: {v}" for k, v in sorted(tiers.items())))
    top = Table("member", "name", "tier", "available", "pending", title="top members by points")
    for member, available in sorted(members, key=lambda row: -row[1])[:10]:
        balance = program.balance(member.id)
        top.add_row(
            str(member.id),
            member.display_name,
            member.tier or "-",
            str(available),
            str(balance.pending),
        )
    console.print(top)
    coupons = program.coupons()
    if coupons:
        sample = Table(
            "code",
            "member",
            "reward",
            "status",
            "expires",
            title=f"coupons issued ({len(coupons)})",
        )
        for coupon in coupons[:5]:
            sample.add_row(
                coupon.code,
                str(coupon.member_id),
                coupon.reward_key,
                coupon.status.value,
                f"{coupon.expires_at:%Y-%m-%d}",
            )
        console.print(sample)


__all__ = ["run_demo"]
