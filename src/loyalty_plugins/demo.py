"""``loyalty demo``: replay a realistic year of a WooCommerce shop into a fresh database.

It starts the bundled WooCommerce store emulator (a real HTTP server on loopback), pages
through its products, orders and refunds over the wc/v3 API with the shared HTTP policy,
maps every payload with the adapter's pure mapping, records it in a new SQLite program,
adds the real example orders from the vendor docs when they are beside the checkout, runs
the cron jobs (expiry, tiers), redeems rewards for members who can afford one, and prints
what happened, ending with ``ledger verify``.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from loyalty_plugins.clock import FixedClock
from loyalty_plugins.config import ProgramConfig, load_config
from loyalty_plugins.errors import InsufficientPoints, LoyaltyError, MappingError
from loyalty_plugins.program import LoyaltyProgram
from loyalty_plugins.starter import write_starter_config
from loyalty_plugins.sync.http import HttpPolicy, PolicySession, PolicyWooCommerceAPI
from loyalty_plugins.sync.paging import iter_wp_pages
from loyalty_plugins.testing.woocommerce import WooCommerceEmulator, generate_store
from loyalty_woocommerce import mapping

DEMO_NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
STORE = "demo-shop"
REAL_FIXTURES = (
    Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "real" / "woocommerce"
)


def _pages(api: PolicyWooCommerceAPI, endpoint: str, **params: Any) -> Iterator[Any]:
    def fetch(page: int) -> Any:
        return api.get(endpoint, params={**params, "per_page": 100, "page": page})

    return iter_wp_pages(fetch)


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
    counts: Counter[str] = Counter()
    with WooCommerceEmulator(store) as emu, LoyaltyProgram(config, clock=clock) as program:
        session = PolicySession(HttpPolicy(connect_timeout=2, read_timeout=10))
        api = PolicyWooCommerceAPI(emu.url, emu.consumer_key, emu.consumer_secret, session=session)
        categories: dict[str, tuple[str, ...]] = {
            str(p["id"]): tuple(c["name"] for c in p.get("categories", []))
            for p in _pages(api, "products")
        }
        refunded: list[tuple[str, str]] = []
        for payload in _pages(api, "orders", orderby="date", order="asc"):
            try:
                snapshot = mapping.map_order(payload, STORE, categories=categories)
            except MappingError as exc:
                counts["quarantined"] += 1
                console.print(f"[yellow]order {payload.get('id')} quarantined:[/yellow] {exc}")
                continue
            counts["fetched"] += 1
            if snapshot is None:
                counts["skipped"] += 1
                continue
            result = program.record_order(snapshot)
            counts[result.status] += 1
            counts["points awarded"] += result.points
            if payload.get("refunds") and result.status == "awarded":
                refunded.append((str(payload["id"]), snapshot.currency))
        for order_id, currency in refunded:
            for refund_payload in _pages(api, f"orders/{order_id}/refunds"):
                refund = mapping.map_refund(refund_payload, STORE, order_id, currency=currency)
                reversal = program.record_refund(refund)
                counts["refunds"] += 1
                counts["points reversed"] += reversal.points_reversed
        counts["docs orders"] = _record_real_fixtures(out, clock, console)
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
        _report(program, console, counts, expiry.expired_points, tiers.evaluated, issued, session)
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


def _report(
    program: LoyaltyProgram,
    console: Console,
    counts: Counter[str],
    expired: int,
    evaluated: int,
    issued: int,
    session: PolicySession,
) -> None:
    summary = Table("what", "count", title="sync")
    for key in (
        "fetched",
        "awarded",
        "not_paid",
        "void",
        "skipped",
        "quarantined",
        "refunds",
        "points awarded",
        "points reversed",
        "docs orders",
    ):
        summary.add_row(key, str(counts.get(key, 0)))
    summary.add_row("points expired", str(expired))
    summary.add_row("tiers evaluated", str(evaluated))
    summary.add_row("reward coupons issued", str(issued))
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
            "code", "member", "reward", "expires", title=f"coupons issued ({len(coupons)})"
        )
        for coupon in coupons[:5]:
            sample.add_row(
                coupon.code,
                str(coupon.member_id),
                coupon.reward_key,
                f"{coupon.expires_at:%Y-%m-%d}",
            )
        console.print(sample)


__all__ = ["run_demo"]
