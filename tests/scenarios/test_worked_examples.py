"""Worked examples, run on SQLite and PostgreSQL (the storage contract)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from loyalty_plugins.clock import FixedClock
from loyalty_plugins.errors import (
    CurrencyMismatch,
    IdempotencyMismatch,
    InsufficientPoints,
    OrderNotFound,
    RefundExceedsOrder,
    RewardNotFound,
)
from tests.builders import order, refund
from tests.conftest import BASE_CONFIG, ProgramFactory, merged


def test_earn_partial_refund_expire_tier_drop(
    make_program: ProgramFactory, clock: FixedClock
) -> None:
    program = make_program()
    t0 = clock.now()
    first = program.record_order(order("100", "150.00", t0))
    assert (first.points, first.tier) == (150, None)
    clock.advance(days=1)
    second = program.record_order(order("101", "100.00", clock.now()))
    member = second.member_id
    assert member is not None and second.tier == "silver"  # 250 spent >= 200
    assert program.balance(member).pending == 250 and program.balance(member).available == 0

    clock.advance(days=20)  # past the 14-day return window
    assert program.expire_due().matured_points == 250
    assert program.balance(member).available == 250

    # A partial refund of 60 on order 101 takes back 60% of its 100 points and the tier.
    result = program.record_refund(refund("101", "r1", "60.00", clock.now()))
    assert result.points_reversed == 60
    assert program.balance(member).available == 190
    assert program.member(member).tier is None  # 190 < 200, refund drops without grace

    clock.set(t0 + timedelta(days=365, hours=1))  # order 100 expires 12 months after earning
    expired = program.expire_due()
    assert expired.expired_points == 150
    assert program.balance(member).available == 40
    assert program.verify().ok


def test_refund_after_rate_change_reverses_original_award(
    make_program: ProgramFactory, clock: FixedClock
) -> None:
    program = make_program()
    program.record_order(order("200", "80.00", clock.now()))
    program.close()
    doubled = dict(BASE_CONFIG, earn={"points_per_unit": "2"})
    program = make_program(doubled)
    assert program.record_order(order("201", "10.00", clock.now())).points == 20
    reversed_ = program.record_refund(refund("200", "r1", "80.00", clock.now()))
    assert reversed_.points_reversed == 80  # the 1x award, not 160 at today's 2x rate
    assert program.balance(reversed_.member_id).pending == 20
    assert program.verify().ok


def test_replayed_order_gives_one_award(program, clock: FixedClock) -> None:  # type: ignore[no-untyped-def]
    o = order("300", "42.00", clock.now())
    results = [program.record_order(o) for _ in range(5)]
    assert [r.replayed for r in results] == [False, True, True, True, True]
    assert {r.points for r in results} == {42}
    assert program.balance(results[0].member_id).pending == 42
    changed = order("300", "43.00", clock.now())
    with pytest.raises(IdempotencyMismatch, match="woocommerce:shop:300:award"):
        program.record_order(changed)
    assert program.balance(results[0].member_id).pending == 42


def test_partial_refunds_never_drift_and_never_exceed(program, clock: FixedClock) -> None:  # type: ignore[no-untyped-def]
    program.record_order(order("400", "99.99", clock.now()))
    parts = [program.record_refund(refund("400", f"r{i}", "33.33", clock.now())) for i in range(3)]
    assert sum(p.points_reversed for p in parts) == 99
    member = parts[0].member_id
    assert program.balance(member).pending == 0
    with pytest.raises(RefundExceedsOrder):
        program.record_refund(refund("400", "r9", "0.01", clock.now()))
    assert program.verify().ok


@pytest.mark.parametrize(
    ("policy", "available", "debt"),
    [("negative", 0, -70), ("forfeit", 0, 0), ("deduct_next", 30, -100)],
)
def test_clawback_when_points_were_spent(
    make_program: ProgramFactory, clock: FixedClock, policy: str, available: int, debt: int
) -> None:
    program = make_program(merged(BASE_CONFIG, clawback=policy, return_window_days=0))
    member = program.record_order(order("500", "100.00", clock.now())).member_id
    assert member is not None
    program.record_order(order("501", "30.00", clock.now()))
    program.redeem(member, "5-off")  # spends 100 of the 130: order 500's lot first (FIFO)
    result = program.record_refund(refund("500", "r1", "100.00", clock.now()))
    balance = program.balance(member)
    assert (balance.available, balance.debt) == (available, debt)
    assert result.points_reversed == 100
    assert result.points_forgiven == (70 if policy == "forfeit" else 0)
    if debt:
        # The next earnings settle the debt first.
        program.record_order(order("502", "50.00", clock.now()))
        assert program.balance(member).debt == min(0, debt + 50)
    assert program.verify().ok


def test_bad_input_leaves_database_unchanged(program, clock: FixedClock) -> None:  # type: ignore[no-untyped-def]
    member = program.record_order(order("600", "50.00", clock.now())).member_id
    before = (program.balance(member), program.history(member), program.coupons())
    with pytest.raises(CurrencyMismatch):
        program.record_order(order("601", "10.00", clock.now(), currency="USD"))
    with pytest.raises(InsufficientPoints) as info:
        program.redeem(member, "10-pct")
    assert (info.value.requested, info.value.available) == (300, 0)
    with pytest.raises(RewardNotFound):
        program.redeem(member, "nope")
    with pytest.raises(OrderNotFound):
        program.record_refund(refund("999", "r1", "1.00", clock.now()))
    with pytest.raises(RefundExceedsOrder):
        program.record_refund(refund("600", "r1", "50.01", clock.now()))
    with pytest.raises(CurrencyMismatch):
        program.record_refund(refund("600", "r2", "1.00", clock.now(), currency="USD"))
    assert (program.balance(member), program.history(member), program.coupons()) == before
    assert program.verify().ok


def test_redeem_is_idempotent_by_key_and_consumes_fifo(program, clock: FixedClock) -> None:  # type: ignore[no-untyped-def]
    member = program.record_order(order("700", "80.00", clock.now())).member_id
    clock.advance(days=1)
    program.record_order(order("701", "70.00", clock.now()))
    clock.advance(days=15)
    program.expire_due()
    first = program.redeem(member, "5-off", idempotency_key="k1")
    again = program.redeem(member, "5-off", idempotency_key="k1")
    assert first.code == again.code and len(program.coupons(member)) == 1
    lots = program.lots(member)
    assert [(lot.points, lot.remaining) for lot in lots] == [(70, 50)]  # oldest lot used up
    assert len(first.code.replace("-", "")) == 16


def test_adjust_needs_reason_and_never_goes_negative(program, clock: FixedClock) -> None:  # type: ignore[no-untyped-def]
    from loyalty_plugins.errors import ValidationError

    member = program.record_order(order("800", "10.00", clock.now())).member_id
    with pytest.raises(ValidationError, match="reason"):
        program.adjust(member, 5, reason=" ", actor="ann")
    program.adjust(member, 25, reason="goodwill", actor="ann", idempotency_key="a1")
    program.adjust(member, 25, reason="goodwill", actor="ann", idempotency_key="a1")
    assert program.balance(member).available == 25
    with pytest.raises(InsufficientPoints):
        program.adjust(member, -26, reason="fix", actor="ann")
    program.adjust(member, -25, reason="fix", actor="ann")
    lines = program.history(member)
    assert [(line.kind, line.actor) for line in lines[-2:]] == [
        ("adjustment", "ann"),
        ("adjustment", "ann"),
    ]
    assert program.verify().ok


def test_tier_grace_then_downgrade(program, clock: FixedClock) -> None:  # type: ignore[no-untyped-def]
    member = program.record_order(order("900", "250.00", clock.now())).member_id
    assert program.member(member).tier == "silver"
    clock.advance(days=366)  # the order leaves the rolling window
    assert program.evaluate_tiers().in_grace == 1
    assert program.member(member).tier == "silver"
    clock.advance(days=30)
    run = program.evaluate_tiers()
    assert run.downgraded == 1 and program.member(member).tier is None


def test_long_jobs_report_progress(program, clock: FixedClock) -> None:  # type: ignore[no-untyped-def]
    for i in range(3):
        program.record_order(order(f"p{i}", "10.00", clock.now(), cid=f"c{i}"))
    clock.advance(days=15)
    seen: list[tuple[int, int]] = []
    assert program.expire_due(lambda done, total: seen.append((done, total))).members == 3
    assert seen == [(1, 3), (2, 3), (3, 3)]
    seen.clear()
    program.evaluate_tiers(lambda done, total: seen.append((done, total)))
    assert seen[-1] == (3, 3)


def test_cancelled_order_gives_back_what_it_still_holds(program, clock: FixedClock) -> None:  # type: ignore[no-untyped-def]
    member = program.record_order(order("c1", "80.00", clock.now())).member_id
    program.record_refund(refund("c1", "r1", "20.00", clock.now()))
    voided = program.void_order("woocommerce:shop:c1", at=clock.now())
    assert voided.points_reversed == 60
    again = program.void_order("woocommerce:shop:c1", at=clock.now())
    assert again.replayed and program.balance(member).pending == 0
    with pytest.raises(RefundExceedsOrder):
        program.record_refund(refund("c1", "r2", "1.00", clock.now()))
    assert program.verify().ok
