"""Third-party plugins override, wrap, veto, observe and can be blocked."""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from loyalty_plugins import hookspecs
from loyalty_plugins.clock import FixedClock
from loyalty_plugins.context import HookContext, Refusal
from loyalty_plugins.domain.events import LoyaltyEvent
from loyalty_plugins.domain.members import Member
from loyalty_plugins.domain.orders import OrderSnapshot
from loyalty_plugins.domain.rewards import Reward
from loyalty_plugins.domain.rules import EarnRule, PointsCalculation, calculate_points
from loyalty_plugins.errors import PluginError, Refused
from loyalty_plugins.hooks import BonusPoints
from loyalty_plugins.plugins import DEFAULT_PLUGINS, describe_plugins, get_plugin_manager, hookimpl
from tests.builders import order
from tests.conftest import START, ProgramFactory


class DoublePointsWeekend:
    """Wraps whatever calculates points and doubles it on Saturdays and Sundays."""

    @hookimpl(wrapper=True)
    def loyalty_calculate_order_points(
        self, order: OrderSnapshot
    ) -> Generator[None, PointsCalculation, PointsCalculation]:
        calc = yield
        if order.effective_paid_at.weekday() >= 5:
            return PointsCalculation(
                calc.points * 2, calc.qualifying, {**calc.rule, "weekend": "x2"}
            )
        return calc


class NoPointsOnGiftCards:
    """Overrides the default: lines in "Gift cards" earn nothing, the rest as usual."""

    @hookimpl(tryfirst=True)
    def loyalty_calculate_order_points(
        self, order: OrderSnapshot, rule: EarnRule
    ) -> PointsCalculation:
        excluded = frozenset(rule.excluded_categories | {"Gift cards"})
        strict = EarnRule(
            rule.points_per_unit, rule.currency, "no-gift-cards", excluded_categories=excluded
        )
        return calculate_points(order, strict)


class VipOnlyRewards:
    @hookimpl
    def loyalty_check_redemption(self, member: Member, reward: Reward) -> Refusal | None:
        if reward.key == "10-pct" and member.tier != "gold":
            return Refusal("vip_only", "10% off is for gold members")
        return None


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, int | None]] = []

    @hookimpl
    def loyalty_on_points_earned(self, event: LoyaltyEvent, ctx: HookContext) -> None:
        self.seen.append((event.kind.value, event.member_id))


class Broken:
    @hookimpl
    def loyalty_on_points_earned(self, event: LoyaltyEvent) -> None:
        raise RuntimeError("subscriber bug")


def test_defaults_are_plugins_and_last() -> None:
    pm = get_plugin_manager(load_entrypoints=False)
    names = {name for name, _ in describe_plugins(pm)}
    assert set(DEFAULT_PLUGINS) <= names
    for impl in pm.hook.loyalty_calculate_order_points.get_hookimpls():
        assert impl.trylast


def test_double_points_weekend_wraps_default(
    make_program: ProgramFactory, clock: FixedClock
) -> None:
    program = make_program(plugins=[DoublePointsWeekend()])
    saturday = START + timedelta(days=(5 - START.weekday()) % 7)
    assert saturday.weekday() == 5
    clock.set(saturday)
    assert program.record_order(order("1", "30.00", saturday)).points == 60
    monday = saturday + timedelta(days=2)
    clock.set(monday)
    assert program.record_order(order("2", "30.00", monday)).points == 30


def test_override_gift_cards(make_program: ProgramFactory, clock: FixedClock) -> None:
    program = make_program(plugins=[NoPointsOnGiftCards()])
    o = order(
        "1",
        "80.00",
        clock.now(),
        lines=[("g", "50.00", ("Gift cards",)), ("f", "30.00", ("Food",))],
    )
    assert program.record_order(o).points == 30


def test_veto_and_subscribers_isolated(make_program: ProgramFactory, clock: FixedClock) -> None:
    recorder = Recorder()
    program = make_program(
        plugins=[VipOnlyRewards(), Broken(), recorder],
        config={
            "program": {"return_window_days": 0},
            "rewards": [
                {"key": "10-pct", "name": "10%", "cost": 10, "kind": "percent", "value": "10"}
            ],
        },
    )
    member = program.record_order(order("1", "50.00", clock.now())).member_id
    assert recorder.seen == [("points_earned", member)]  # ran despite the broken plugin
    with pytest.raises(Refused, match="vip_only"):
        program.redeem(member, "10-pct")
    assert program.balance(member).available == 50


def test_bonus_points_collected(make_program: ProgramFactory, clock: FixedClock) -> None:
    class FirstOrderBonus:
        @hookimpl
        def loyalty_collect_bonus_points(self) -> list[BonusPoints]:
            return [BonusPoints(25, "welcome")]

    program = make_program(plugins=[FirstOrderBonus()])
    assert program.record_order(order("1", "10.00", clock.now())).points == 35


def test_bad_plugin_results_are_named(make_program: ProgramFactory, clock: FixedClock) -> None:
    class Floaty:
        @hookimpl(tryfirst=True)
        def loyalty_calculate_order_points(self) -> Any:
            return 1.5

    program = make_program(plugins=[Floaty()])
    with pytest.raises(PluginError, match="loyalty_calculate_order_points"):
        program.record_order(order("1", "10.00", clock.now()))


def test_disable_plugins_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"LOYALTY_DISABLE_PLUGINS": "loyalty_plugins.defaults.coupon_codes, woocommerce"}
    pm = get_plugin_manager(env=env)
    names = {name for name, _ in describe_plugins(pm)}
    assert "loyalty_plugins.defaults.coupon_codes" not in names
    assert "woocommerce" not in names
    assert "woocommerce" in {n for n, _ in describe_plugins(get_plugin_manager(env={}))}
    only = get_plugin_manager(env={"LOYALTY_LOAD_PLUGINS": "nothing-else"})
    assert "woocommerce" not in {n for n, _ in describe_plugins(only)}


def test_duplicate_registration_rejected() -> None:
    from loyalty_plugins.config import ProgramConfig
    from loyalty_plugins.hooks import Hooks

    class Twice:
        @hookimpl
        def loyalty_register_adapters(self, register: Any) -> None:
            register(SimpleNamespace(name="same"))
            register(SimpleNamespace(name="same"))

    pm = get_plugin_manager(load_entrypoints=False, plugins=[Twice()])
    hooks = Hooks(pm, HookContext(ProgramConfig(), FixedClock(START)))
    with pytest.raises(PluginError, match="registered twice"):
        hooks.adapters()


def test_every_hook_name_follows_convention() -> None:
    names = [n for n in dir(hookspecs) if n.startswith("loyalty_")]
    assert len(names) >= 30
    spec_attr = f"{hookspecs.PROJECT_NAME}_spec"
    for name in names:
        opts = getattr(getattr(hookspecs, name), spec_attr)
        decision = name.split("_")[1] in {"calculate", "determine", "generate", "resolve"}
        assert bool(opts.get("firstresult")) == decision, name


def test_points_value_default(program: Any) -> None:
    assert program.points_value(250).amount == Decimal("2.50")


def test_only_event_hooks_make_the_outbox_dispatch(make_program: ProgramFactory) -> None:
    class SyncObserver:
        @hookimpl
        def loyalty_on_sync_error(self, store: str, error: BaseException) -> None:
            pass

    assert not make_program(plugins=[SyncObserver()])._rt.has_subscribers
    assert make_program(plugins=[Recorder()])._rt.has_subscribers
