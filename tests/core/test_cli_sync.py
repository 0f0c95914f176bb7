"""The store-admin commands against a real (emulated) WooCommerce store over HTTP."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from loyalty_plugins import cli_sync
from loyalty_plugins.cli import app
from loyalty_plugins.config import load_config
from loyalty_plugins.credentials import (
    StoreCredentials,
    credentials_path,
    load_store_credentials,
    save_store_credentials,
)
from loyalty_plugins.errors import ConfigError
from loyalty_plugins.program import LoyaltyProgram
from loyalty_plugins.storage import tables as t
from loyalty_plugins.sync import state
from loyalty_plugins.testing.woocommerce import WooCommerceEmulator, generate_store
from loyalty_plugins.testing.woocommerce.fixtures import FIXTURE_NOW
from loyalty_plugins.testing.woocommerce.models import Order

runner = CliRunner()
STORE = "shop"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("LOYALTY_STORE_", "LOYALTY_CONSUMER_", "LOYALTY_WEBHOOK_")):
            monkeypatch.delenv(name)
    monkeypatch.delenv("LOYALTY_CONFIG", raising=False)
    # wide Rich tables, so that assertions never depend on where a cell wraps
    monkeypatch.setattr(cli_sync, "console", Console(width=200, soft_wrap=True))
    monkeypatch.setattr(cli_sync, "err", Console(width=200, stderr=True, soft_wrap=True))


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "loyalty.toml"
    result = runner.invoke(app, ["init", "--config", str(path)])
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture
def emu() -> Iterator[WooCommerceEmulator]:
    with WooCommerceEmulator(generate_store(40, seed=7, now=FIXTURE_NOW), port=0) as emulator:
        yield emulator


def cli(config: Path, *args: str) -> Result:
    return runner.invoke(app, [*args, "--config", str(config)])


def add_store(
    config: Path, emu: WooCommerceEmulator, *, name: str = STORE, secret: str | None = None
) -> Result:
    result = cli(
        config,
        "stores",
        "add",
        "woocommerce",
        "--name",
        name,
        "--url",
        emu.url,
        "--key",
        emu.consumer_key,
        "--secret",
        secret or emu.consumer_secret,
    )
    assert result.exit_code == 0, result.output
    return result


def sync_json(config: Path, *args: str) -> dict[str, Any]:
    result = cli(config, "sync", "--json", *args)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def open_program(config: Path) -> LoyaltyProgram:
    return LoyaltyProgram(load_config(config), load_entrypoints=False)


def row_counts(config: Path) -> dict[str, int]:
    with open_program(config) as program, program.db.read() as conn:
        return {
            table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table in t.metadata.sorted_tables
            if table.name != "sync_locks"
        }


def woo_order(emu: WooCommerceEmulator, order_id: int) -> Order:
    order = emu.store.get_order(order_id)
    assert order is not None
    return order


def paid_orders(emu: WooCommerceEmulator, count: int) -> list[int]:
    found = [
        o.id
        for o in emu.store.orders()
        if o.status in ("processing", "completed") and o.customer_id and not o.refunds
    ]
    assert len(found) >= count
    return found[:count]


# ----------------------------------------------------------------------------- credentials


def test_stores_add_keeps_secrets_out_of_output_and_config(
    config: Path, emu: WooCommerceEmulator
) -> None:
    before = config.read_text()
    result = add_store(config, emu)
    for secret in (emu.consumer_key, emu.consumer_secret):
        assert secret not in result.output
        assert secret not in config.read_text()
    assert config.read_text().startswith(before)  # comments and layout kept
    assert load_config(config).stores[STORE].url == emu.url
    creds_file = credentials_path(config)
    assert stat.S_IMODE(creds_file.stat().st_mode) == 0o600
    creds = load_store_credentials(config, STORE)
    assert (creds.consumer_key, creds.consumer_secret) == (emu.consumer_key, emu.consumer_secret)
    assert emu.consumer_secret not in repr(creds) and emu.consumer_secret not in str(creds)

    listed = cli(config, "stores", "list")
    assert listed.exit_code == 0 and STORE in listed.output and emu.url in listed.output
    assert emu.consumer_secret not in listed.output and emu.consumer_key not in listed.output

    again = runner.invoke(
        app,
        [
            "stores",
            "add",
            "woocommerce",
            "--name",
            STORE,
            "--url",
            emu.url,
            "--config",
            str(config),
        ],
        env={"LOYALTY_CONSUMER_KEY": "k", "LOYALTY_CONSUMER_SECRET": "s"},
    )
    assert again.exit_code == 1 and "already exists" in again.output
    assert config.read_text().count(f"[stores.{STORE}]") == 1


def test_stores_add_prompts_for_secrets_without_echo(config: Path) -> None:
    result = runner.invoke(
        app,
        [
            *("stores", "add", "woocommerce", "--name", "typed"),
            *("--url", "https://shop.example", "--config", str(config)),
        ],
        input="ck_typed_key\ncs_typed_secret\n",
    )
    assert result.exit_code == 0, result.output
    assert "Consumer secret" in result.output
    assert "ck_typed_key" not in result.output and "cs_typed_secret" not in result.output
    assert load_store_credentials(config, "typed").consumer_secret == "cs_typed_secret"


def test_stores_add_refuses_url_with_credentials(config: Path) -> None:
    result = cli(
        config,
        *("stores", "add", "woocommerce", "--name", "x", "--key", "k", "--secret", "s"),
        *("--url", "https://ck:cs@shop.example"),
    )
    assert result.exit_code == 2
    assert "[stores.x]" not in config.read_text()


def test_group_readable_credentials_are_refused(config: Path, emu: WooCommerceEmulator) -> None:
    add_store(config, emu)
    path = credentials_path(config)
    path.chmod(0o640)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_store_credentials(config, STORE)
    result = cli(config, "stores", "test")
    assert result.exit_code == 1
    assert "chmod 600" in result.output and str(path) in result.output.replace("\n", "")
    assert emu.consumer_secret not in result.output


def test_environment_overrides_the_file(
    config: Path, emu: WooCommerceEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_store(config, emu, secret="cs_wrong")
    assert cli(config, "stores", "test").exit_code == 1
    monkeypatch.setenv("LOYALTY_STORE_SHOP_CONSUMER_SECRET", emu.consumer_secret)
    creds = load_store_credentials(config, STORE)
    assert creds.consumer_secret == emu.consumer_secret
    assert creds.sources == {"consumer_key": "file", "consumer_secret": "env"}
    result = cli(config, "stores", "test")
    assert result.exit_code == 0, result.output
    assert "all stores ok" in result.output


def test_save_keeps_other_stores_and_quotes_values(tmp_path: Path) -> None:
    config = tmp_path / "loyalty.toml"
    save_store_credentials(config, "a", StoreCredentials("k1", 's"1\\', ""))
    save_store_credentials(config, "eu shop", StoreCredentials("k2", "s2", "w2"))
    assert load_store_credentials(config, "a").consumer_secret == 's"1\\'
    other = load_store_credentials(config, "eu shop", environ={})
    assert (other.consumer_key, other.webhook_secret) == ("k2", "w2")
    env = {"LOYALTY_STORE_EU_SHOP_CONSUMER_KEY": "from-env"}
    assert load_store_credentials(config, "eu shop", environ=env).consumer_key == "from-env"
    assert stat.S_IMODE(credentials_path(config).stat().st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


# ----------------------------------------------------------------------------- stores test


def test_stores_test_against_the_emulator(config: Path, emu: WooCommerceEmulator) -> None:
    add_store(config, emu)
    ok = cli(config, "stores", "test", "--store", STORE)
    assert ok.exit_code == 0, ok.output
    assert "read orders: ok" in ok.output
    add_store(config, emu, name="bad", secret="cs_not_the_secret")
    bad = cli(config, "stores", "test", "--store", "bad")
    assert bad.exit_code == 1
    assert "refused" in bad.output and "cs_not_the_secret" not in bad.output


# ----------------------------------------------------------------------------- sync


def test_sync_awards_then_finds_nothing_new(config: Path, emu: WooCommerceEmulator) -> None:
    add_store(config, emu)
    first = cli(config, "sync")
    assert first.exit_code == 0, first.output
    assert "points awarded" in first.output and "HTTP shop:" in first.output
    assert emu.consumer_secret not in first.output
    with open_program(config) as program:
        awarded = len(program.members(limit=1000))
    assert awarded > 0
    second = sync_json(config)
    assert second["ok"] is True
    (outcome,) = second["stores"]
    assert outcome["status"] == "ok" and outcome["summary"]["awarded"] == 0
    assert outcome["http"]["requests"] > 0


def test_dry_run_writes_nothing(config: Path, emu: WooCommerceEmulator) -> None:
    add_store(config, emu)
    before = row_counts(config)
    data = sync_json(config, "--dry-run")
    summary = data["stores"][0]["summary"]
    assert summary["dry_run"] is True and summary["fetched"] == len(emu.store.orders())
    assert row_counts(config) == before


def test_sync_exits_4_when_another_run_holds_the_store(
    config: Path, emu: WooCommerceEmulator
) -> None:
    add_store(config, emu)
    with (
        open_program(config) as program,
        state.store_lock(program.db, STORE, program.clock.now()),
    ):
        result = cli(config, "sync")
        as_json = cli(config, "sync", "--json")
    assert result.exit_code == 4
    assert "another run holds the store" in result.output
    assert as_json.exit_code == 4 and json.loads(as_json.stdout)["stores"][0]["status"] == "busy"


def test_sync_usage_errors_and_unsupported_platform(config: Path) -> None:
    assert cli(config, "sync").exit_code == 1  # no stores configured
    with config.open("a") as handle:
        handle.write('\n[stores.sh]\nplatform = "shopify"\nurl = "https://x.myshopify.com"\n')
    assert cli(config, "sync", "--since", "2025-01-01", "--backfill").exit_code == 2
    assert cli(config, "sync", "--since", "yesterday").exit_code == 2
    result = cli(config, "sync")
    assert result.exit_code == 1 and "not supported yet" in result.output


# ----------------------------------------------------------------------------- quarantine


def test_quarantine_list_retry_drop(config: Path, emu: WooCommerceEmulator) -> None:
    add_store(config, emu)
    fixed, dropped = paid_orders(emu, 2)
    originals = {}
    for order_id in (fixed, dropped):
        line = woo_order(emu, order_id).line_items[0]
        originals[order_id] = line.total
        line.total = Decimal("-1.00")
    summary = sync_json(config)["stores"][0]["summary"]
    assert summary["quarantined"] == 2

    listed = cli(config, "quarantine", "list")
    assert listed.exit_code == 0
    assert str(fixed) in listed.output and "negative amount" in listed.output
    with open_program(config) as program:
        items = {i.external_id: i for i in state.list_quarantine(program.db)}
    fixed_item, dropped_item = items[str(fixed)], items[str(dropped)]

    still_bad = cli(config, "quarantine", "retry", str(fixed_item.id))
    assert still_bad.exit_code == 1 and "failed" in still_bad.output

    woo_order(emu, fixed).line_items[0].total = originals[fixed]
    emu.store.touch_order(fixed)
    retried = cli(config, "quarantine", "retry", str(fixed_item.id))
    assert retried.exit_code == 0, retried.output
    assert "resolved" in retried.output

    assert cli(config, "quarantine", "drop", str(dropped_item.id)).exit_code == 2  # no --reason
    drop = cli(config, "quarantine", "drop", str(dropped_item.id), "--reason", "test order")
    assert drop.exit_code == 0, drop.output

    assert cli(config, "quarantine", "list").output.strip() == "nothing in quarantine"
    everything = cli(config, "quarantine", "list", "--all")
    assert "resolved" in everything.output and "dropped" in everything.output
    with open_program(config) as program:
        after = {
            i.id: i for i in state.list_quarantine(program.db, statuses=("resolved", "dropped"))
        }
        assert after[fixed_item.id].status == "resolved"
        assert after[dropped_item.id].status == "dropped"
        assert "test order" in after[dropped_item.id].reason
        customer = str(woo_order(emu, fixed).customer_id)
        assert program.find_member("woocommerce", STORE, customer) is not None
    again = cli(config, "quarantine", "retry", str(dropped_item.id))
    assert again.exit_code == 1 and "dropped" in again.output
    assert cli(config, "quarantine", "retry").exit_code == 2


def test_quarantine_retry_releases_a_held_refund(config: Path, emu: WooCommerceEmulator) -> None:
    from loyalty_plugins.domain.money import Money
    from loyalty_plugins.domain.orders import RefundSnapshot
    from loyalty_plugins.sync.engine import refund_json

    add_store(config, emu)
    sync_json(config, "--no-push")
    recorded, missing = paid_orders(emu, 1)[0], 999_999
    with open_program(config) as program:
        for order_id in (recorded, missing):
            refund = RefundSnapshot(
                "woocommerce",
                STORE,
                str(order_id),
                f"r{order_id}",
                Money.of("1.00", "EUR"),
                FIXTURE_NOW,
            )
            state.quarantine_payload(
                program.db,
                platform="woocommerce",
                store=STORE,
                resource="refund",
                external_id=refund.key,
                payload=refund_json(refund),
                reason="order not recorded yet",
                now=program.clock.now(),
                status="held",
            )
    result = cli(config, "quarantine", "retry", "--all")
    assert result.exit_code == 0, result.output  # a refund still waiting is not a failure
    with open_program(config) as program:
        statuses = {
            i.external_id: i.status
            for i in state.list_quarantine(program.db, statuses=("held", "resolved"))
        }
    assert sorted(statuses.values()) == ["held", "resolved"]
    assert "resolved" in result.output and "held" in result.output


# ----------------------------------------------------------------------------- webhooks


def test_webhooks_install_creates_five_then_none(config: Path, emu: WooCommerceEmulator) -> None:
    add_store(config, emu)
    url = "https://loyalty.example/webhooks/woocommerce/{store}"
    first = cli(config, "webhooks", "install", "--delivery-url", url)
    assert first.exit_code == 0, first.output
    hooks = emu.store.webhooks()
    assert sorted(h.topic for h in hooks) == sorted(
        ["order.created", "order.updated", "order.deleted", "customer.created", "customer.updated"]
    )
    secret = load_store_credentials(config, STORE).webhook_secret
    assert secret and all(h.secret == secret for h in hooks)
    assert {h.delivery_url for h in hooks} == {"https://loyalty.example/webhooks/woocommerce/shop"}
    assert secret not in first.output
    second = cli(config, "webhooks", "install", "--delivery-url", url)
    assert second.exit_code == 0, second.output
    assert "0 webhook(s) created" in second.output
    assert len(emu.store.webhooks()) == 5


# ----------------------------------------------------------------------------- import


def test_import_points(config: Path, emu: WooCommerceEmulator, tmp_path: Path) -> None:
    add_store(config, emu)
    good = tmp_path / "balances.csv"
    good.write_text(
        "email,points,customer_id,note\nA@example.com,250,,gold member\nb@example.com,0,,\n"
    )
    first = cli(config, "import", "points", "--csv", str(good))
    assert first.exit_code == 0, first.output
    assert "1 imported (250 points)" in first.output and "1 enrolled with 0" in first.output
    with open_program(config) as program:
        (member, available), *_ = program.members(search="a@example.com")
        assert available == 250
        assert program.history(member.id)[-1].reason == "imported from balances.csv: gold member"
    again = cli(config, "import", "points", "--csv", str(good))
    assert again.exit_code == 0 and "0 imported" in again.output
    assert "1 already imported" in again.output

    before = row_counts(config)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "email,points\nc@example.com,10\nnot-an-email,5\nd@example.com,1.5\nC@example.com,3\n"
    )
    result = cli(config, "import", "points", "--csv", str(bad))
    assert result.exit_code == 1
    for expected in ("line 3:", "line 4:", "line 5:", "nothing imported"):
        assert expected in result.output
    assert "duplicate e-mail" in result.output and "whole number" in result.output
    assert row_counts(config) == before


# ----------------------------------------------------------------------------- emulator


def test_emulator_command_runs_the_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    from loyalty_plugins.testing import woocommerce

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(woocommerce, "run_emulator", lambda **kw: calls.append(kw))
    result = runner.invoke(
        app, ["emulator", "woocommerce", "--orders", "5", "--port", "0", "--latency", "0.1"]
    )
    assert result.exit_code == 0, result.output
    assert calls and calls[0]["orders"] == 5 and calls[0]["port"] == 0
    assert calls[0]["latency"] == pytest.approx(0.1) and calls[0]["seed"] == 0
