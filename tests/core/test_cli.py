"""The CLI as cron and admins use it: exit codes and messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from loyalty_plugins.cli import EXIT_ERROR, EXIT_VERIFY_FAILED, app
from loyalty_plugins.config import load_config
from loyalty_plugins.program import LoyaltyProgram
from tests.builders import order

runner = CliRunner()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "loyalty.toml"
    result = runner.invoke(app, ["init", "--config", str(path)])
    assert result.exit_code == 0, result.output
    return path


def test_init_refuses_to_overwrite(config: Path) -> None:
    result = runner.invoke(app, ["init", "--config", str(config)])
    assert result.exit_code == EXIT_ERROR
    assert "exists" in result.output


def test_adjust_show_redeem_verify(config: Path) -> None:
    program = LoyaltyProgram(load_config(config), load_entrypoints=False)
    from datetime import UTC, datetime

    member = program.record_order(order("1", "12.00", datetime(2025, 1, 1, tzinfo=UTC))).member_id
    program.close()
    ok = runner.invoke(
        app,
        ["points", "adjust", str(member), "600", "--reason", "migration", "--config", str(config)],
    )
    assert ok.exit_code == 0, ok.output
    shown = runner.invoke(app, ["members", "show", str(member), "--config", str(config)])
    # the 2025 order is past its return window, so its 12 points are available at once
    assert "migration" in shown.output and "available: 612" in shown.output
    redeemed = runner.invoke(app, ["redeem", str(member), "5-off", "--config", str(config)])
    assert redeemed.exit_code == 0 and "coupon" in redeemed.output
    too_much = runner.invoke(app, ["redeem", str(member), "5-off", "--config", str(config)])
    assert too_much.exit_code == EXIT_ERROR
    assert "available points" in too_much.output
    verified = runner.invoke(app, ["ledger", "verify", "--config", str(config)])
    assert verified.exit_code == 0 and "ledger ok" in verified.output
    for command in (["expire"], ["tiers", "evaluate"], ["members", "list"]):
        assert runner.invoke(app, [*command, "--config", str(config)]).exit_code == 0


def test_verify_exit_code_on_tampering(config: Path) -> None:
    from sqlalchemy import text

    program = LoyaltyProgram(load_config(config), load_entrypoints=False)
    from tests.builders import customer

    member = program.ensure_member(customer("1"))
    program.adjust(member, 10, reason="x", actor="t")
    with program.db.engine.begin() as conn:
        conn.execute(
            text("UPDATE accounts SET balance = 11 WHERE member_id = :m AND kind = 'available'"),
            {"m": member},
        )
    program.close()
    result = runner.invoke(app, ["ledger", "verify", "--config", str(config)])
    assert result.exit_code == EXIT_VERIFY_FAILED
    assert "entries sum to 10" in result.output


def test_bad_config_names_key(tmp_path: Path) -> None:
    path = tmp_path / "loyalty.toml"
    path.write_text('[program]\ncurrency = "ZZZ"\n')
    result = runner.invoke(app, ["members", "list", "--config", str(path)])
    assert result.exit_code == EXIT_ERROR
    assert "currency" in result.output and "loyalty.toml" in result.output
