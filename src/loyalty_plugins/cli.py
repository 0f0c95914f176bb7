"""The ``loyalty`` command: a thin Typer app; every command delegates to the program.

Exit codes (for cron): 0 success; 1 a :class:`LoyaltyError` (bad input, refused, not
found: the message says which); 2 usage error; 3 ``ledger verify`` found problems;
4 another run holds the lock.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from loyalty_plugins.cli_common import (
    DEFAULT_CONFIG,
    EXIT_ERROR,
    EXIT_LOCK_BUSY,
    EXIT_VERIFY_FAILED,
    ConfigOption,
    console,
    err,
    fail,
    open_program,
    progress_bar,
)
from loyalty_plugins.cli_sync import register_sync_commands
from loyalty_plugins.errors import LoyaltyError
from loyalty_plugins.hooks import collect_commands
from loyalty_plugins.plugins import describe_plugins, get_plugin_manager
from loyalty_plugins.program import LoyaltyProgram
from loyalty_plugins.starter import write_starter_config

app = typer.Typer(
    help="Run a customer-loyalty program for a WooCommerce or Shopify shop.", no_args_is_help=True
)
members_app = typer.Typer(help="Members and their points.", no_args_is_help=True)
points_app = typer.Typer(help="Manual points changes.", no_args_is_help=True)
tiers_app = typer.Typer(help="Tier evaluation.", no_args_is_help=True)
ledger_app = typer.Typer(help="Ledger checks.", no_args_is_help=True)
app.add_typer(members_app, name="members")
app.add_typer(points_app, name="points")
app.add_typer(tiers_app, name="tiers")
app.add_typer(ledger_app, name="ledger")
register_sync_commands(app)

T = TypeVar("T")
__all__ = ["EXIT_ERROR", "EXIT_LOCK_BUSY", "EXIT_VERIFY_FAILED", "app", "main"]


def _run(config: Path, action: Callable[[LoyaltyProgram], T]) -> T:
    with open_program(config) as program:
        return action(program)


@app.command()
def init(
    config: ConfigOption = DEFAULT_CONFIG,
    database: Annotated[
        str | None, typer.Option(help="Database URL (default: SQLite next to the config).")
    ] = None,
    currency: Annotated[str, typer.Option(help="ISO 4217 currency of the shop.")] = "EUR",
    force: Annotated[bool, typer.Option(help="Overwrite an existing config file.")] = False,
) -> None:
    """Write a commented loyalty.toml and create the database."""
    if config.exists() and not force:
        fail(f"{config} exists; pass --force to overwrite")
    try:
        write_starter_config(config, database=database, currency=currency)
    except LoyaltyError as exc:
        fail(str(exc))
    db = _run(config, lambda p: p.config.database)
    console.print(f"wrote {config}; database ready at {db}")


@members_app.command("list")
def members_list(
    config: ConfigOption = DEFAULT_CONFIG,
    search: Annotated[str | None, typer.Option(help="Filter by e-mail or name.")] = None,
    limit: int = 50,
    offset: int = 0,
) -> None:
    """List members with tier and available points."""
    rows = _run(config, lambda p: p.members(search=search, limit=limit, offset=offset))
    table = Table("id", "name", "e-mail", "tier", "available")
    for member, available in rows:
        table.add_row(
            str(member.id),
            member.display_name,
            member.email or "",
            member.tier or "-",
            str(available),
        )
    console.print(table)


@members_app.command("show")
def members_show(member_id: int, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Show a member: balance, lots with expiry, statement and coupons."""

    def show(p: LoyaltyProgram) -> None:
        member = p.member(member_id)
        balance = p.balance(member_id)
        console.print(
            f"[bold]{member.display_name}[/bold] (member {member.id}, {member.email or 'no e-mail'})"
        )
        console.print(
            f"tier: {member.tier or '-'}   available: {balance.available}   "
            f"pending: {balance.pending}   owed: {-balance.debt}"
        )
        lots = Table("lot", "points", "remaining", "state", "available from", "expires")
        for lot in p.lots(member_id):
            lots.add_row(
                str(lot.id),
                str(lot.points),
                str(lot.remaining),
                lot.state,
                f"{lot.available_at:%Y-%m-%d}",
                f"{lot.expires_at:%Y-%m-%d}" if lot.expires_at else "never",
            )
        console.print(lots)
        statement = Table("entry", "when", "kind", "available", "pending", "debt", "reason")
        for line in p.history(member_id):
            statement.add_row(
                str(line.journal_id),
                f"{line.occurred_at:%Y-%m-%d}",
                line.kind,
                f"{line.available_change:+d}",
                f"{line.pending_change:+d}",
                f"{line.debt_change:+d}",
                line.reason or "",
            )
        console.print(statement)
        coupons = Table("code", "reward", "status", "expires")
        for c in p.coupons(member_id):
            coupons.add_row(c.code, c.reward_key, c.status.value, f"{c.expires_at:%Y-%m-%d}")
        console.print(coupons)

    _run(config, show)


@points_app.command("adjust")
def points_adjust(
    member_id: int,
    points: Annotated[int, typer.Argument(help="Points to add (negative to remove).")],
    reason: Annotated[str, typer.Option(help="Why (stored in the ledger).")],
    actor: Annotated[str, typer.Option(help="Who made the change.", envvar="USER")] = "cli",
    key: Annotated[
        str | None, typer.Option(help="Idempotency key: a retry with it applies once.")
    ] = None,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Add or remove points with a reason."""
    result = _run(
        config,
        lambda p: p.adjust(member_id, points, reason=reason, actor=actor, idempotency_key=key),
    )
    note = " (already applied)" if result.replayed else ""
    console.print(f"member {member_id}: {points:+d} points, entry {result.journal_id}{note}")


@app.command()
def redeem(
    member_id: int,
    reward: str,
    key: Annotated[
        str | None, typer.Option(help="Idempotency key: a retry with it redeems once.")
    ] = None,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Spend a member's points on a reward and print the coupon code."""
    coupon = _run(config, lambda p: p.redeem(member_id, reward, idempotency_key=key))
    console.print(
        f"coupon {coupon.code} ({coupon.reward_key}) for member {member_id}, "
        f"valid until {coupon.expires_at:%Y-%m-%d}"
    )


@app.command()
def expire(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Make due pending points available and expire old points (safe to re-run)."""
    with progress_bar("expiring") as progress:
        r = _run(config, lambda p: p.expire_due(progress))
    console.print(
        f"{r.members} members: {r.matured_points} points became available "
        f"({r.matured_lots} lots), {r.expired_points} expired ({r.expired_lots} lots)"
    )


@tiers_app.command("evaluate")
def tiers_evaluate(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Re-evaluate every member's tier."""
    with progress_bar("evaluating tiers") as progress:
        r = _run(config, lambda p: p.evaluate_tiers(progress))
    console.print(
        f"{r.evaluated} members: {r.upgraded} up, {r.downgraded} down, {r.in_grace} in grace"
    )


@ledger_app.command("verify")
def ledger_verify(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Prove every balance equals the sum of its entries (exit 3 if not)."""
    report = _run(config, lambda p: p.verify())
    if report.ok:
        console.print(f"ledger ok: {report.accounts} accounts, {report.transfers} transfers")
        return
    for problem in report.problems:
        err.print(f"[red]problem:[/red] {escape(problem)}")
    raise typer.Exit(EXIT_VERIFY_FAILED)


@app.command()
def plugins() -> None:
    """List loaded plugins and the hooks each implements."""
    table = Table("plugin", "hooks")
    for name, hooks in describe_plugins(get_plugin_manager()):
        table.add_row(name, ", ".join(hooks))
    console.print(table)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo database.")] = Path("demo-out"),
    orders: Annotated[int, typer.Option(help="Orders to generate for the year.")] = 1500,
) -> None:
    """Replay a realistic year of store history into a fresh SQLite database and report."""
    from loyalty_plugins.demo import run_demo

    try:
        ok = run_demo(out, orders=orders, console=console)
    except LoyaltyError as exc:
        fail(str(exc))
    if not ok:
        raise typer.Exit(EXIT_VERIFY_FAILED)


def _register_plugin_commands() -> None:
    try:
        pm = get_plugin_manager()
    except LoyaltyError:
        return
    for sub in collect_commands(pm):
        app.add_typer(sub)


def main() -> None:
    """Console-script entry point."""
    _register_plugin_commands()
    app(prog_name="loyalty")


if __name__ == "__main__":  # pragma: no cover
    main()
