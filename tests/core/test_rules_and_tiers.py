from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from loyalty_plugins.domain.rules import EarnRule, calculate_points
from loyalty_plugins.domain.tiers import Tier, TierLadder
from loyalty_plugins.errors import CurrencyMismatch, ValidationError
from tests.builders import order

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def rule(**kw: object) -> EarnRule:
    base: dict[str, object] = {"points_per_unit": Decimal(1), "currency": "EUR"}
    base.update(kw)
    return EarnRule(**base)  # type: ignore[arg-type]


def test_points_per_unit_rounded_once_per_order() -> None:
    o = order("1", "20.98", NOW, lines=[("a", "10.49", ()), ("b", "10.49", ())])
    assert calculate_points(o, rule()).points == 20  # 20.98 down, not 10 + 10
    assert calculate_points(o, rule(rounding="half_up")).points == 21


def test_product_multiplier_beats_category_and_exclusions_skip_lines() -> None:
    o = order(
        "1",
        "100.00",
        NOW,
        lines=[
            ("cat1", "40.00", ("Cat food",)),
            ("toy", "30.00", ("Toys", "Cat food")),
            ("gift", "30.00", ("Gift cards",)),
        ],
    )
    r = rule(
        category_multipliers={"Cat food": Decimal(2), "Toys": Decimal("1.5")},
        product_multipliers={"toy": Decimal(3)},
        excluded_categories=frozenset({"Gift cards"}),
    )
    calc = calculate_points(o, r)
    assert calc.points == 40 * 2 + 30 * 3
    assert calc.qualifying.amount == Decimal("70.00")
    assert ("3", "excluded") in calc.breakdown


def test_minimum_order_and_currency() -> None:
    assert calculate_points(order("1", "9.99", NOW), rule(minimum_order=Decimal(10))).points == 0
    with pytest.raises(CurrencyMismatch):
        calculate_points(order("1", "10", NOW, currency="USD"), rule())


def ladder(grace: int = 30) -> TierLadder:
    return TierLadder(
        (Tier("gold", "Gold", Decimal(1000)), Tier("silver", "Silver", Decimal(200))),
        grace_days=grace,
    )


def test_ladder_sorts_and_rejects_duplicates() -> None:
    assert [t.key for t in ladder().tiers] == ["silver", "gold"]
    with pytest.raises(ValidationError):
        TierLadder((Tier("a", "A", Decimal(1)), Tier("a", "B", Decimal(2))))


def test_upgrade_immediately_downgrade_after_grace() -> None:
    lad = ladder()
    assert lad.evaluate(None, None, Decimal(250), NOW).tier == "silver"
    first = lad.evaluate("gold", None, Decimal(250), NOW)
    assert (first.tier, first.reason, first.below_since) == ("gold", "grace", NOW)
    still = lad.evaluate("gold", NOW, Decimal(250), NOW + timedelta(days=29))
    assert still.tier == "gold"
    dropped = lad.evaluate("gold", NOW, Decimal(250), NOW + timedelta(days=30))
    assert (dropped.tier, dropped.reason) == ("silver", "downgrade")


def test_recovering_clears_grace_and_refund_skips_it() -> None:
    lad = ladder()
    assert lad.evaluate("gold", NOW, Decimal(1200), NOW).below_since is None
    refund = lad.evaluate("gold", None, Decimal(100), NOW, after_refund=True)
    assert (refund.tier, refund.reason) == (None, "refund")
