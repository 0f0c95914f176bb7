"""Real threads against a real database: row locks, not luck, keep the money right."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

from loyalty_plugins.clock import FixedClock
from loyalty_plugins.errors import InsufficientPoints
from tests.builders import order
from tests.conftest import BASE_CONFIG, ProgramFactory, merged


def test_fifty_concurrent_redemptions_of_one_reward(
    make_program: ProgramFactory, clock: FixedClock
) -> None:
    program = make_program(merged(BASE_CONFIG, return_window_days=0))
    member = program.record_order(
        order("1", "150.00", clock.now())
    ).member_id  # covers one 100-pt reward
    assert member is not None
    barrier = Barrier(50)

    def attempt(_: int) -> str:
        barrier.wait()
        try:
            return program.redeem(member, "5-off").code
        except InsufficientPoints:
            return "refused"

    with ThreadPoolExecutor(50) as pool:
        outcomes = list(pool.map(attempt, range(50)))
    assert len([o for o in outcomes if o != "refused"]) == 1
    assert len(program.coupons(member)) == 1
    assert program.balance(member).available == 50
    assert program.verify().ok


def test_ten_concurrent_deliveries_of_one_order(
    make_program: ProgramFactory, clock: FixedClock
) -> None:
    programs = [make_program() for _ in range(2)]  # two "processes" sharing one database
    o = order("77", "64.00", clock.now(), cid="900")
    barrier = Barrier(10)

    def deliver(i: int) -> bool:
        barrier.wait()
        return programs[i % 2].record_order(o).replayed

    with ThreadPoolExecutor(10) as pool:
        replayed = list(pool.map(deliver, range(10)))
    assert replayed.count(False) == 1
    member = programs[0].find_member("woocommerce", "shop", "900")
    assert member is not None
    assert programs[0].balance(member.id).pending == 64
    assert len(programs[0].history(member.id)) == 1
    assert programs[0].verify().ok
