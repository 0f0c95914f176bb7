"""The store-admin commands: ``loyalty stores|sync|quarantine|import|webhooks|emulator``.

:func:`register_sync_commands` mounts them on the main ``loyalty`` app (see
:mod:`loyalty_plugins.cli`, whose exit codes they share: 0 success, 1 error, 2 usage,
4 another run holds the store's lock).

Store secrets live in ``credentials.toml`` or the environment (see
:mod:`loyalty_plugins.credentials`); no command prints them.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

import typer
from rich.markup import escape
from rich.table import Table

from loyalty_plugins.cli_common import (
    DEFAULT_CONFIG,
    EXIT_ERROR,
    EXIT_LOCK_BUSY,
    ConfigOption,
    console,
    err,
    fail,
    open_program,
    progress_bar,
)
from loyalty_plugins.config import ProgramConfig, StoreSettings, load_config
from loyalty_plugins.credentials import (
    StoreCredentials,
    credentials_path,
    env_var,
    load_store_credentials,
    save_store_credentials,
    toml_key,
    toml_string,
)
from loyalty_plugins.errors import ConfigError, LockBusy, LoyaltyError, PlatformError, SyncError
from loyalty_plugins.program import LoyaltyProgram
from loyalty_plugins.sync import state

if TYPE_CHECKING:
    from loyalty_plugins.sync.engine import RunSummary, SyncEngine
    from loyalty_plugins.sync.http import HttpPolicy
    from loyalty_woocommerce.client import WooCommerceClient

__all__ = ["WEBHOOK_TOPICS", "register_sync_commands"]

#: Topics ``loyalty webhooks install`` subscribes to.
WEBHOOK_TOPICS: tuple[str, ...] = (
    "order.created",
    "order.updated",
    "order.deleted",
    "customer.created",
    "customer.updated",
)
_STORE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_OPEN = ("open", "held")

StoreOption = Annotated[
    str | None,
    typer.Option("--store", "-s", help="Only this store (default: every configured store)."),
]

stores_app = typer.Typer(help="Stores the program syncs with.", no_args_is_help=True)
quarantine_app = typer.Typer(
    help="Payloads a sync could not process, and what to do with them.", no_args_is_help=True
)
import_app = typer.Typer(help="Import data from another system.", no_args_is_help=True)
webhooks_app = typer.Typer(help="Store webhooks pointing at this program.", no_args_is_help=True)
emulator_app = typer.Typer(
    help="Local store emulators for trying things out.", no_args_is_help=True
)


def register_sync_commands(app: typer.Typer) -> None:
    """Add ``stores``, ``sync``, ``quarantine``, ``import``, ``webhooks`` and ``emulator``."""
    app.add_typer(stores_app, name="stores")
    app.command("sync")(sync)
    app.add_typer(quarantine_app, name="quarantine")
    app.add_typer(import_app, name="import")
    app.add_typer(webhooks_app, name="webhooks")
    app.add_typer(emulator_app, name="emulator")
    app.command("serve")(serve_command)
    inbox_app = typer.Typer(help="Stored webhook deliveries.", no_args_is_help=True)
    inbox_app.command("drain")(inbox_drain)
    app.add_typer(inbox_app, name="inbox")


# ----------------------------------------------------------------------------- helpers


def _load(config: Path) -> ProgramConfig:
    try:
        return load_config(config)
    except LoyaltyError as exc:
        fail(str(exc))


def _select(cfg: ProgramConfig, store: str | None) -> list[tuple[str, StoreSettings]]:
    if not cfg.stores:
        fail("no stores configured; add one with: loyalty stores add woocommerce --name NAME ...")
    if store is None:
        return sorted(cfg.stores.items())
    if store not in cfg.stores:
        fail(f"unknown store {store!r}; configured: {', '.join(sorted(cfg.stores))}")
    return [(store, cfg.stores[store])]


class UnsupportedPlatform(LoyaltyError):
    """The store's platform has no client yet."""

    def __init__(self, store: str, platform: str) -> None:
        super().__init__(f"store {store!r}: {platform} is not supported yet")


def _credentials(config: Path, name: str) -> StoreCredentials:
    creds = load_store_credentials(config, name)
    missing = creds.missing()
    if missing:
        raise ConfigError(
            f"store {name!r} has no {' or '.join(missing)}: run `loyalty stores add` "
            f"or set {env_var(name, missing[0])}",
            path=str(credentials_path(config)),
        )
    return creds


def _client(
    config: Path, name: str, settings: StoreSettings, *, policy: HttpPolicy | None = None
) -> WooCommerceClient:
    """The store client of ``name`` with its credentials (raises ``UnsupportedPlatform``)."""
    if settings.platform != "woocommerce":
        raise UnsupportedPlatform(name, settings.platform)
    from loyalty_woocommerce.client import WooCommerceClient, WooCommerceStore

    creds = _credentials(config, name)
    return WooCommerceClient(
        WooCommerceStore(
            name=name,
            url=settings.url,
            consumer_key=creds.consumer_key,
            consumer_secret=creds.consumer_secret,
            guest_policy=settings.guest_policy,
            webhook_secret=creds.webhook_secret,
        ),
        policy=policy,
    )


# ----------------------------------------------------------------------------- stores


class StorePlatform(StrEnum):
    """Platforms ``stores add`` can configure."""

    woocommerce = "woocommerce"


class GuestPolicy(StrEnum):
    """What to do with guest orders."""

    match_email = "match_email"
    skip = "skip"


def _check_store_name(name: str) -> str:
    if not _STORE_NAME.fullmatch(name):
        raise typer.BadParameter(
            "use letters, digits, '-' and '_' (at most 64, starting with a letter or digit)",
            param_hint="--name",
        )
    return name


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise typer.BadParameter("must be the shop's http(s):// address", param_hint="--url")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise typer.BadParameter(
            "must not carry credentials, a query or a fragment (use --key and --secret)",
            param_hint="--url",
        )
    return url


def _write_text_atomic(path: Path, text: str, mode: int) -> Path:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _append_store_table(config: Path, name: str, block: str) -> str:
    """Append ``block`` to ``config`` (validated first); returns the original text."""
    original = config.read_text(encoding="utf-8")
    text = original + ("" if original.endswith("\n") or not original else "\n") + block
    mode = stat.S_IMODE(config.stat().st_mode)
    tmp = _write_text_atomic(config, text, mode)
    try:
        new = load_config(tmp)
        if name not in new.stores:
            raise ConfigError(f"store {name!r} did not appear in the file", path=str(tmp))
    except LoyaltyError as exc:
        tmp.unlink(missing_ok=True)
        message = str(exc).replace(str(tmp), str(config))
        fail(f"adding the store would make {config} invalid, nothing changed: {message}")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, config)
    return original


@stores_app.command("add")
def stores_add(
    platform: Annotated[StorePlatform, typer.Argument(help="The store's platform.")],
    name: Annotated[
        str,
        typer.Option(
            "--name", callback=_check_store_name, help="Short name of the store (used in commands)."
        ),
    ],
    url: Annotated[
        str,
        typer.Option(
            "--url", callback=_check_url, help="The shop's address, e.g. https://shop.example"
        ),
    ],
    key: Annotated[
        str,
        typer.Option(
            "--key",
            envvar="LOYALTY_CONSUMER_KEY",
            prompt="Consumer key",
            hide_input=True,
            show_default=False,
            help="REST API consumer key (prompted, hidden, when not given).",
        ),
    ],
    secret: Annotated[
        str,
        typer.Option(
            "--secret",
            envvar="LOYALTY_CONSUMER_SECRET",
            prompt="Consumer secret",
            hide_input=True,
            show_default=False,
            help="REST API consumer secret (prompted, hidden, when not given).",
        ),
    ],
    webhook_secret: Annotated[
        str | None,
        typer.Option(
            "--webhook-secret",
            envvar="LOYALTY_WEBHOOK_SECRET",
            show_default=False,
            help="Secret signing the store's webhooks (webhooks install makes one if absent).",
        ),
    ] = None,
    guest_policy: Annotated[
        GuestPolicy,
        typer.Option(help="Guest orders: match members by e-mail, or skip them."),
    ] = GuestPolicy.match_email,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Add a store: its address to loyalty.toml, its secrets to credentials.toml (0600)."""
    if not key.strip() or not secret.strip():
        raise typer.BadParameter("the consumer key and secret must not be empty")
    if not config.exists():
        fail(f"{config} not found; create it with: loyalty init --config {config}")
    cfg = _load(config)
    if name in cfg.stores:
        fail(f"store {name!r} already exists in {config}")
    for other in cfg.stores:
        if env_var(other, "x") == env_var(name, "x"):
            fail(f"store {name!r} would share environment variables with store {other!r}")
    block = (
        f"\n[stores.{toml_key(name)}]\n"
        f'platform = "{platform.value}"\n'
        f"url = {toml_string(url.rstrip('/'))}\n"
        f'guest_policy = "{guest_policy.value}"\n'
    )
    creds = StoreCredentials(key.strip(), secret.strip(), (webhook_secret or "").strip())
    original = _append_store_table(config, name, block)
    try:
        path = save_store_credentials(config, name, creds)
    except BaseException as exc:
        restored = _write_text_atomic(config, original, stat.S_IMODE(config.stat().st_mode))
        os.replace(restored, config)
        if isinstance(exc, LoyaltyError):
            fail(f"{exc}; {config} left unchanged")
        raise
    console.print(f"added store {escape(name)} ({platform.value}, {escape(url.rstrip('/'))})")
    console.print(f"credentials saved to {escape(str(path))} (mode 600)")
    console.print(f"check the connection with: loyalty stores test --store {escape(name)}")


def _sources(creds: StoreCredentials) -> str:
    if creds.missing():
        return "missing " + " and ".join(n.replace("consumer_", "") for n in creds.missing())
    return "+".join(sorted(set(creds.sources.values())))


@stores_app.command("list")
def stores_list(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """List configured stores (no secrets)."""
    cfg = _load(config)
    table = Table("name", "platform", "url", "guests", "credentials")
    problem: str | None = None
    for name, settings in sorted(cfg.stores.items()):
        try:
            source = _sources(load_store_credentials(config, name))
        except ConfigError as exc:
            source, problem = "unreadable", str(exc)
        table.add_row(name, settings.platform, escape(settings.url), settings.guest_policy, source)
    if not cfg.stores:
        console.print("no stores configured; add one with: loyalty stores add woocommerce ...")
        return
    console.print(table)
    if problem is not None:
        fail(problem)


@stores_app.command("test")
def stores_test(store: StoreOption = None, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Check each store is reachable and the key may read what the sync needs (exit 1 if not)."""
    from loyalty_plugins.sync.http import HttpPolicy

    cfg = _load(config)
    failed = False
    quick = HttpPolicy(max_attempts=2, backoff_cap=2.0, read_timeout=20.0)
    for name, settings in _select(cfg, store):
        try:
            client = _client(config, name, settings, policy=quick)
            findings = client.check()
        except LoyaltyError as exc:
            err.print(f"[red]{escape(name)}:[/red] {escape(str(exc))}")
            failed = True
            continue
        for finding in findings:
            bad = "refused" in finding or "unreachable" in finding
            failed = failed or bad
            colour = "red" if bad else "green"
            console.print(f"[{colour}]{escape(name)}:[/{colour}] {escape(finding)}")
        if not client.config.webhook_secret:
            console.print(
                f"{escape(name)}: webhook secret not set (loyalty webhooks install creates one)"
            )
    if failed:
        raise typer.Exit(EXIT_ERROR)
    console.print("all stores ok")


# ----------------------------------------------------------------------------- sync


def _parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(
            "expected an ISO 8601 date or date-time, e.g. 2025-06-01T00:00:00Z",
            param_hint="--since",
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _summary_table(summary: RunSummary) -> Table:
    title = f"store {summary.store}" + (" (dry run: nothing written)" if summary.dry_run else "")
    table = Table("", "", title=escape(title), show_header=False)
    for key, value in summary.as_dict().items():
        if key in ("store", "dry_run", "errors"):
            continue
        table.add_row(key.replace("_", " "), "-" if value is None else str(value))
    return table


def sync(
    store: StoreOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Fetch and map, but write nothing.")
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(help="Read orders modified after this ISO date-time (not the checkpoint)."),
    ] = None,
    backfill: Annotated[
        bool, typer.Option("--backfill", help="Read every order, ignoring the checkpoint.")
    ] = False,
    no_push: Annotated[
        bool, typer.Option("--no-push", help="Do not push coupons and balances to the store.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON line (for cron logs) instead of tables.")
    ] = False,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Pull orders and refunds from each store, then push coupons and balances.

    Exit 1 if a store failed, 4 if another run holds a store (the others still run).
    """
    from loyalty_plugins.sync.engine import SyncEngine

    since_at = _parse_since(since)
    if since_at is not None and backfill:
        raise typer.BadParameter("--since and --backfill cannot be combined", param_hint="--since")
    selected = _select(_load(config), store)
    results: list[dict[str, Any]] = []
    code = 0
    with open_program(config) as program:
        for name, settings in selected:
            outcome: dict[str, Any] = {"store": name, "platform": settings.platform}
            client: WooCommerceClient | None = None
            try:
                client = _client(config, name, settings)
                summary = SyncEngine(program, client, dry_run=dry_run).run(
                    since=since_at, backfill=backfill, push=not no_push
                )
            except LockBusy as exc:
                outcome.update(status="busy", error=f"{exc}; another run holds the store")
                code = code or EXIT_LOCK_BUSY
            except LoyaltyError as exc:
                outcome.update(status="error", error=str(exc))
                code = EXIT_ERROR
            else:
                outcome.update(status="ok", summary=summary.as_dict())
            if client is not None:
                outcome["http"] = client.session.stats.as_dict()
                outcome["http_summary"] = client.session.stats.summary()
            results.append(outcome)
            if not as_json:
                _print_outcome(outcome, summary if outcome["status"] == "ok" else None)
    if as_json:
        typer.echo(json.dumps({"ok": code == 0, "exit_code": code, "stores": results}))
    if code:
        raise typer.Exit(code)


def _print_outcome(outcome: dict[str, Any], summary: RunSummary | None) -> None:
    name = escape(outcome["store"])
    if summary is not None:
        console.print(_summary_table(summary))
        for problem in summary.errors:
            err.print(f"[yellow]warning:[/yellow] {name}: {escape(problem)}")
        if summary.quarantined and not summary.dry_run:
            console.print(
                f"{summary.quarantined} payload(s) quarantined: "
                f"loyalty quarantine list --store {name}"
            )
    elif outcome["status"] == "busy":
        err.print(f"[yellow]busy:[/yellow] {name}: {escape(outcome['error'])}")
    else:
        err.print(f"[red]error:[/red] {name}: {escape(outcome['error'])}")
    if "http_summary" in outcome:
        console.print(f"HTTP {name}: {escape(outcome['http_summary'])}")


# ----------------------------------------------------------------------------- quarantine


@quarantine_app.command("list")
def quarantine_list(
    store: StoreOption = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Also show resolved and dropped items.")
    ] = False,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """List quarantined payloads (open and held; --all for every item)."""
    statuses = ("open", "held", "resolved", "dropped") if show_all else _OPEN

    def rows(program: LoyaltyProgram) -> list[state.QuarantineItem]:
        return state.list_quarantine(program.db, store=store, statuses=statuses)

    with open_program(config) as program:
        items = rows(program)
    if not items:
        console.print("nothing in quarantine")
        return
    table = Table("id", "store", "resource", "external id", "reason", "attempts", "status")
    for item in items:
        table.add_row(
            str(item.id),
            escape(item.store),
            item.resource,
            escape(item.external_id or "-"),
            escape(item.reason),
            str(item.attempts),
            item.status,
        )
    console.print(table)


def _fresh_order(client: WooCommerceClient, order_id: str) -> dict[str, Any] | None:
    """The order as the store has it now (None: the store no longer has it)."""
    try:
        data = client.api.get_json(f"orders/{order_id}").data
    except PlatformError as exc:
        if exc.status in (404, 410):
            return None
        raise
    return data if isinstance(data, dict) else None


def _retry_one(
    engine: SyncEngine, client: WooCommerceClient, item: state.QuarantineItem
) -> tuple[str, str]:
    """Retry an open item; returns (outcome, detail) with outcome resolved/failed/held/skipped."""
    from loyalty_plugins.sync.engine import refund_from_json

    db, now = engine.program.db, engine.program.clock.now()
    if item.resource == "order":
        if item.external_id is None:
            return "skipped", "the payload has no order id; it can only be dropped"
        try:
            stored = json.loads(item.payload)
        except ValueError:
            stored = None
        try:
            payload = _fresh_order(client, item.external_id)
        except SyncError as exc:
            return "failed", f"could not re-read the order from the store: {exc}"
        if payload is None:
            if not isinstance(stored, dict):
                return "failed", "the store no longer has the order and the stored copy is not JSON"
            payload = stored
        engine.process_order(payload)
    elif item.resource == "refund":
        try:
            refund = refund_from_json(item.payload)
        except (ValueError, KeyError, TypeError, LoyaltyError) as exc:
            return "failed", f"the stored refund cannot be read: {type(exc).__name__}"
        engine.record_refund(refund)
    else:
        return "skipped", f"{item.resource} items cannot be retried here; drop them when handled"
    after = state.get_quarantined(db, item.id)
    if after.attempts > item.attempts:
        if after.status == "held":
            return "held", after.reason
        return "failed", after.reason
    state.set_quarantine_status(db, item.id, "resolved", now)
    return "resolved", ""


@quarantine_app.command("retry")
def quarantine_retry(
    item_id: Annotated[int | None, typer.Argument(metavar="ID", help="The item to retry.")] = None,
    retry_all: Annotated[
        bool, typer.Option("--all", help="Retry every open and held item.")
    ] = False,
    store: StoreOption = None,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Process quarantined payloads again; an item that now works is marked resolved.

    Orders are re-read from the store (so a fix made there is picked up; the stored copy is
    used when the store no longer has the order); held refunds are retried against the
    orders recorded since. An item that still fails stays open with the new reason.
    """
    from loyalty_plugins.sync.engine import SyncEngine

    if (item_id is None) == (not retry_all):
        raise typer.BadParameter("give one item ID or --all", param_hint="ID")
    outcomes: list[tuple[state.QuarantineItem, str, str]] = []
    with open_program(config) as program:
        db = program.db
        if item_id is not None:
            item = state.get_quarantined(db, item_id)
            if item.status not in _OPEN:
                fail(f"quarantine item {item_id} is {item.status}; nothing to retry")
            items = [item]
        else:
            items = state.list_quarantine(db, store=store)
        by_store: dict[str, list[state.QuarantineItem]] = {}
        for item in items:
            by_store.setdefault(item.store, []).append(item)
        for name, group in sorted(by_store.items()):
            settings = program.config.stores.get(name)
            if settings is None:
                outcomes += [(i, "skipped", f"store {name!r} is not configured") for i in group]
                continue
            client = _client(config, name, settings)
            engine = SyncEngine(program, client)
            with state.store_lock(db, name, program.clock.now()):
                for item in group:
                    if item.status == "open":
                        outcomes.append((item, *_retry_one(engine, client, item)))
                held = [i for i in group if i.status == "held"]
                if held:
                    engine.release_held()
                    for item in held:
                        after = state.get_quarantined(db, item.id)
                        outcome = {"resolved": "resolved", "held": "held"}.get(after.status)
                        outcomes.append((item, outcome or "failed", after.reason))
    if not outcomes:
        console.print("nothing to retry")
        return
    table = Table("id", "store", "resource", "external id", "result", "reason")
    for item, outcome, detail in outcomes:
        colour = {"resolved": "green", "failed": "red"}.get(outcome, "yellow")
        table.add_row(
            str(item.id),
            escape(item.store),
            item.resource,
            escape(item.external_id or "-"),
            f"[{colour}]{outcome}[/{colour}]",
            escape(detail),
        )
    console.print(table)
    results = [outcome for _, outcome, _ in outcomes]
    if "failed" in results or (item_id is not None and results != ["resolved"]):
        raise typer.Exit(EXIT_ERROR)


@quarantine_app.command("drop")
def quarantine_drop(
    item_id: Annotated[int, typer.Argument(metavar="ID", help="The item to drop.")],
    reason: Annotated[str, typer.Option(help="Why it needs no processing (kept with the item).")],
    actor: Annotated[str, typer.Option(help="Who dropped it.", envvar="USER")] = "cli",
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Mark an item dropped (it stays in the database, with why and who)."""
    if not reason.strip():
        raise typer.BadParameter("must not be empty", param_hint="--reason")
    with open_program(config) as program:
        item = state.get_quarantined(program.db, item_id)
        if item.status not in _OPEN:
            fail(f"quarantine item {item_id} is already {item.status}")
        note = f"dropped by {actor.strip() or 'cli'}: {reason.strip()} (was: {item.reason})"
        state.set_quarantine_status(program.db, item_id, "dropped", program.clock.now(), note)
    console.print(f"quarantine item {item_id} dropped")


# ----------------------------------------------------------------------------- webhooks


def _all_pages(client: WooCommerceClient, endpoint: str) -> list[dict[str, Any]]:
    from loyalty_plugins.sync.paging import iter_wp_pages

    def fetch(page: int) -> Any:
        return client.api.get_json(endpoint, params={"per_page": 100, "page": page})

    return [item for item in iter_wp_pages(fetch) if isinstance(item, dict)]


@webhooks_app.command("install")
def webhooks_install(
    delivery_url: Annotated[
        str,
        typer.Option(
            "--delivery-url",
            help="Where the store sends deliveries; {store} is replaced by the store's name, "
            "e.g. https://loyalty.example/webhooks/woocommerce/{store}.",
        ),
    ],
    store: StoreOption = None,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Create the store webhooks the program listens to (topics already there are kept).

    Uses the store's webhook secret, or makes one and saves it to credentials.toml.
    """
    cfg = _load(config)
    selected = _select(cfg, store)
    if len(selected) > 1 and "{store}" not in delivery_url:
        raise typer.BadParameter(
            "several stores would share one URL: add {store} to it or pass --store",
            param_hint="--delivery-url",
        )
    failed = False
    for name, settings in selected:
        url = delivery_url.replace("{store}", name)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise typer.BadParameter("must be an http(s):// URL", param_hint="--delivery-url")
        try:
            failed |= not _install_for_store(config, name, settings, url)
        except LoyaltyError as exc:
            err.print(f"[red]error:[/red] {escape(name)}: {escape(str(exc))}")
            failed = True
    if failed:
        raise typer.Exit(EXIT_ERROR)


def _install_for_store(config: Path, name: str, settings: StoreSettings, url: str) -> bool:
    client = _client(config, name, settings)
    creds = load_store_credentials(config, name)
    secret = creds.webhook_secret
    generated = not secret
    if generated:
        secret = secrets.token_urlsafe(32)
        save_store_credentials(
            config,
            name,
            StoreCredentials(creds.consumer_key, creds.consumer_secret, secret),
        )
        console.print(f"{escape(name)}: new webhook secret saved to {credentials_path(config)}")
    existing = [
        hook
        for hook in _all_pages(client, "webhooks")
        if hook.get("delivery_url") == url and hook.get("topic") in WEBHOOK_TOPICS
    ]
    console.print(f"{escape(name)}: webhooks delivering to {escape(url)}")
    table = Table("topic", "webhook", "action")
    have: set[str] = set()
    for hook in existing:
        topic, hook_id = str(hook["topic"]), hook.get("id")
        have.add(topic)
        changes: dict[str, Any] = {}
        if hook.get("status") != "active":
            changes["status"] = "active"
        if generated:
            changes["secret"] = secret  # the old secret is unknown: sign with the new one
        if changes:
            client.api.put(f"webhooks/{hook_id}", changes)
        action = "kept" if not changes else ("re-enabled" if "status" in changes else "re-keyed")
        table.add_row(topic, str(hook_id), action)
    created = 0
    ok = True
    for topic in WEBHOOK_TOPICS:
        if topic in have:
            continue
        body = {
            "name": f"loyalty_plugins {name} {topic}",
            "topic": topic,
            "delivery_url": url,
            "secret": secret,
            "status": "active",
        }
        try:
            response = client.api.post_json("webhooks", body)
        except SyncError as exc:
            table.add_row(topic, "-", f"[red]failed[/red]: {escape(str(exc))}")
            ok = False
            continue
        hook_id = response.data.get("id") if isinstance(response.data, dict) else None
        table.add_row(topic, str(hook_id), "[green]created[/green]")
        created += 1
    console.print(table)
    console.print(f"{escape(name)}: {created} webhook(s) created, {len(have)} already there")
    return ok


# ----------------------------------------------------------------------------- import


def _import_store(cfg: ProgramConfig, store: str | None) -> tuple[str, StoreSettings]:
    if store is None and len(cfg.stores) > 1:
        fail(f"several stores are configured; pass --store ({', '.join(sorted(cfg.stores))})")
    return _select(cfg, store)[0]


@import_app.command("points")
def import_points(
    csv_file: Annotated[
        Path,
        typer.Option(
            "--csv",
            exists=True,
            dir_okay=False,
            readable=True,
            help="CSV with a header: email, points[, customer_id][, note].",
        ),
    ],
    store: Annotated[
        str | None,
        typer.Option(
            "--store", "-s", help="Store the customers belong to (default: the only one)."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check the file and count; write nothing.")
    ] = False,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Import opening balances; the whole file is checked first, re-running never doubles."""
    from loyalty_plugins.services.points_import import ImportFileInvalid
    from loyalty_plugins.services.points_import import import_points as run_import

    name, settings = _import_store(_load(config), store)
    with open_program(config) as program, progress_bar("importing") as progress:
        try:
            report = run_import(
                program,
                csv_file,
                platform=settings.platform,
                store=name,
                dry_run=dry_run,
                progress=progress,
            )
        except ImportFileInvalid as exc:
            for problem in exc.problems:
                err.print(f"[red]{csv_file.name}:[/red] {escape(str(problem))}")
            fail(f"{len(exc.problems)} problem(s) in {csv_file}; nothing imported")
    if dry_run:
        console.print(
            f"{csv_file.name}: {report.rows} rows, {report.total_points} points for store "
            f"{escape(name)} look valid (dry run: nothing written)"
        )
        return
    console.print(
        f"{csv_file.name}: {report.imported} imported ({report.points_imported} points), "
        f"{report.already_imported} already imported, {report.enrolled_only} enrolled with 0 "
        f"points, {len(report.conflicts)} conflicts"
    )
    for conflict in report.conflicts:
        err.print(f"[red]conflict:[/red] {escape(str(conflict))}")
    if report.conflicts:
        raise typer.Exit(EXIT_ERROR)


# ----------------------------------------------------------------------------- emulator


@emulator_app.command("woocommerce")
def emulator_woocommerce(
    orders: Annotated[int, typer.Option(min=0, help="Orders to generate.")] = 1000,
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port (0: any free one).")] = 8765,
    seed: Annotated[int, typer.Option(help="Seed of the generated shop.")] = 0,
    latency: Annotated[float, typer.Option(min=0.0, help="Seconds added to every response.")] = 0.0,
) -> None:
    """Serve a generated WooCommerce shop on 127.0.0.1 until Ctrl-C (test credentials only)."""
    from loyalty_plugins.testing import woocommerce as emulator

    try:
        emulator.run_emulator(orders=orders, port=port, seed=seed, latency=latency, echo=typer.echo)
    except OSError as exc:
        fail(f"cannot serve on port {port}: {exc.strerror}")


# ----------------------------------------------------------------------------- webhooks in


def _receivers(config: Path, program: LoyaltyProgram) -> tuple[dict[tuple[str, str], str], Any]:
    """Webhook secrets and the delivery processor of every WooCommerce store."""
    from loyalty_woocommerce.webhooks import make_processor

    cfg = program.config
    secrets: dict[tuple[str, str], str] = {}
    clients: dict[str, WooCommerceClient] = {}
    for name, settings in cfg.stores.items():
        if settings.platform != "woocommerce":
            err.print(
                f"[yellow]skipped:[/yellow] {escape(name)}: {settings.platform} not supported yet"
            )
            continue
        client = _client(config, name, settings)
        if not client.config.webhook_secret:
            err.print(
                f"[yellow]skipped:[/yellow] {escape(name)}: no webhook secret "
                "(loyalty webhooks install creates one)"
            )
            continue
        clients[name] = client
        secrets[("woocommerce", name)] = client.config.webhook_secret
    return secrets, make_processor(program, clients)


def serve_command(
    config: ConfigOption = DEFAULT_CONFIG,
    host: Annotated[
        str, typer.Option(help="Address to listen on (put TLS in front).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
) -> None:
    """Receive store webhooks: verify, store durably, answer at once, then process."""
    from loyalty_plugins.web import serve

    with open_program(config) as program:
        secrets, processor = _receivers(config, program)
        if not secrets:
            fail(
                "no store can receive webhooks yet; run: loyalty webhooks install --delivery-url ..."
            )
        console.print(
            f"receiving webhooks for {', '.join(sorted(s for _, s in secrets))} on http://{host}:{port}"
        )
        serve(program, host=host, port=port, secrets=secrets, processor=processor)


def inbox_drain(
    config: ConfigOption = DEFAULT_CONFIG,
    limit: Annotated[int, typer.Option(help="Deliveries per batch.")] = 100,
) -> None:
    """Process stored webhook deliveries still pending (e.g. after the server stopped)."""
    from loyalty_plugins.web import drain_inbox

    with open_program(config) as program:
        _, processor = _receivers(config, program)
        total = 0
        while True:
            done = drain_inbox(program, processor, limit=limit)
            total += done
            if done < limit:
                break
        console.print(f"processed {total} pending deliveries")
