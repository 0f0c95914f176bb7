"""Property tests: whatever sequence of orders, refunds, redemptions and expiry happens,
the books balance, no refund reverses more than was awarded, and balances only go
negative where the claw-back policy allows a debt."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from loyalty_plugins.clock import FixedClock
from loyalty_plugins.errors import InsufficientPoints, RefundExceedsOrder
from loyalty_plugins.program import LoyaltyProgram
from loyalty_plugins.storage import tables as t
from tests.builders import order, refund
from tests.conftest import BASE_CONFIG, START, merged

_TEMPLATE: dict[str, Path] = {}


def fresh_database() -> str:
    """A migrated SQLite file, copied from a template migrated once per session."""
    if "path" not in _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="loyalty-template-"))
        path = folder / "template.db"
        LoyaltyProgram.open(f"sqlite:///{path}", load_entrypoints=False).close()
        _TEMPLATE["path"] = path
    target = Path(tempfile.mkdtemp(prefix="loyalty-prop-")) / "loyalty.db"
    shutil.copy(_TEMPLATE["path"], target)
    return f"sqlite:///{target}"


amounts = st.decimals(min_value="0.01", max_value="500", places=2).map(str)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("order"), st.integers(0, 2), amounts),
        st.tuples(st.just("refund"), st.integers(0, 20), amounts),
        st.tuples(st.just("redeem"), st.integers(0, 2), st.sampled_from(["5-off", "10-pct"])),
        st.tuples(st.just("advance"), st.integers(1, 200), st.just("")),
        st.tuples(st.just("expire"), st.just(0), st.just("")),
    ),
    min_size=1,
    max_size=25,
)


def run(policy: str, ops: list[tuple[str, int, str]]) -> tuple[LoyaltyProgram, list[Any]]:
    clock = FixedClock(START)
    config = merged(BASE_CONFIG, clawback=policy, database=fresh_database(), return_window_days=7)
    program = LoyaltyProgram.open(config, clock=clock, load_entrypoints=False)
    placed: list[str] = []
    members: dict[int, int] = {}
    for i, (kind, n, arg) in enumerate(ops):
        if kind == "order":
            oid = f"o{i}"
            result = program.record_order(order(oid, arg, clock.now(), cid=str(n)))
            members[n] = result.member_id or 0
            placed.append(oid)
        elif kind == "refund" and placed:
            with contextlib.suppress(RefundExceedsOrder):
                program.record_refund(refund(placed[n % len(placed)], f"r{i}", arg, clock.now()))
        elif kind == "redeem" and n in members:
            with contextlib.suppress(InsufficientPoints):
                program.redeem(members[n], arg)
        elif kind == "advance":
            clock.advance(days=n)
        elif kind == "expire":
            program.expire_due()
    return program, list(members.values())


def check_invariants(program: LoyaltyProgram, members: list[int], policy: str) -> None:
    report = program.verify()
    assert report.ok, report.problems
    with program.db.read() as conn:
        for row in conn.execute(select(t.orders)):
            assert 0 <= row.points_reversed <= row.points_awarded
            assert 0 <= row.refunded_minor <= row.total_minor
            if row.refunded_minor == row.total_minor:
                assert row.points_reversed == row.points_awarded
    for member in members:
        balance = program.balance(member)
        assert balance.available >= 0 and balance.pending >= 0
        if policy == "forfeit":
            assert balance.debt == 0
        assert balance.debt <= 0


@given(ops=operations, policy=st.sampled_from(["negative", "forfeit", "deduct_next"]))
def test_ledger_invariants_hold(ops: list[tuple[str, int, str]], policy: str) -> None:
    program, members = run(policy, ops)
    try:
        check_invariants(program, members, policy)
    finally:
        program.close()


@given(parts=st.lists(st.integers(1, 4000), min_size=1, max_size=8))
def test_partial_refunds_sum_to_at_most_the_award(parts: list[int]) -> None:
    clock = FixedClock(START)
    program = LoyaltyProgram.open(
        merged(BASE_CONFIG, database=fresh_database()), clock=clock, load_entrypoints=False
    )
    try:
        total = 10000  # 100.00 EUR, 100 points
        program.record_order(order("o", "100.00", clock.now()))
        refunded = reversed_ = 0
        for i, cents in enumerate(parts):
            if refunded + cents > total:
                break
            refunded += cents
            amount = f"{cents // 100}.{cents % 100:02d}"
            result = program.record_refund(refund("o", f"r{i}", amount, clock.now()))
            reversed_ += result.points_reversed
            assert reversed_ == 100 * refunded // total
        assert program.verify().ok
    finally:
        program.close()
