"""Earn rules: how many points an order is worth, and the record kept with each award."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from loyalty_plugins.domain.money import Money, normalize_currency
from loyalty_plugins.domain.orders import OrderSnapshot
from loyalty_plugins.domain.points import Rounding, to_points
from loyalty_plugins.errors import CurrencyMismatch, InvalidAmount


@dataclass(frozen=True, slots=True)
class EarnRule:
    """Points per currency unit with multipliers, exclusions, a minimum and a rounding.

    A product multiplier wins over category multipliers; among several matching
    categories the highest multiplier applies. Rounding happens once, on the order.
    """

    points_per_unit: Decimal
    currency: str
    rule_id: str = "default"
    category_multipliers: Mapping[str, Decimal] = field(default_factory=dict)
    product_multipliers: Mapping[str, Decimal] = field(default_factory=dict)
    excluded_products: frozenset[str] = frozenset()
    excluded_categories: frozenset[str] = frozenset()
    minimum_order: Decimal = Decimal(0)
    rounding: Rounding = "down"

    def __post_init__(self) -> None:
        object.__setattr__(self, "currency", normalize_currency(self.currency))
        if not isinstance(self.points_per_unit, Decimal) or self.points_per_unit < 0:
            raise InvalidAmount("points_per_unit", "must be a non-negative Decimal")
        for name, table in (
            ("category_multipliers", self.category_multipliers),
            ("product_multipliers", self.product_multipliers),
        ):
            for key, value in table.items():
                if not isinstance(value, Decimal) or value < 0 or not value.is_finite():
                    raise InvalidAmount(f"{name}.{key}", "must be a non-negative Decimal")

    def multiplier_for(self, product_id: str, categories: tuple[str, ...]) -> Decimal:
        """Multiplier for one line (0 when excluded)."""
        if product_id in self.excluded_products or self.excluded_categories.intersection(
            categories
        ):
            return Decimal(0)
        if product_id in self.product_multipliers:
            return self.product_multipliers[product_id]
        matches = [
            self.category_multipliers[c] for c in categories if c in self.category_multipliers
        ]
        return max(matches) if matches else Decimal(1)

    def snapshot(self) -> dict[str, Any]:
        """JSON-safe description stored with every award."""
        return {
            "rule_id": self.rule_id,
            "points_per_unit": str(self.points_per_unit),
            "currency": self.currency,
            "rounding": self.rounding,
            "minimum_order": str(self.minimum_order),
        }


@dataclass(frozen=True, slots=True)
class PointsCalculation:
    """What an order earns: points, the amount that qualified, and why."""

    points: int
    qualifying: Money
    rule: Mapping[str, Any]
    breakdown: tuple[tuple[str, str], ...] = ()


def calculate_points(
    order: OrderSnapshot, rule: EarnRule, multiplier: Decimal = Decimal(1)
) -> PointsCalculation:
    """Apply ``rule`` to ``order``; ``multiplier`` is an extra factor such as a tier bonus."""
    if order.currency != rule.currency:
        raise CurrencyMismatch(order.currency, rule.currency, f"order {order.order_id} vs program")
    zero = Money.zero(order.currency)
    if order.total.amount < rule.minimum_order:
        return PointsCalculation(0, zero, rule.snapshot(), (("minimum_order", "not reached"),))
    raw = Decimal(0)
    qualifying = zero
    breakdown: list[tuple[str, str]] = []
    lines = order.lines
    if not lines:
        raw = order.total.amount * rule.points_per_unit
        qualifying = order.total
    for line in lines:
        factor = rule.multiplier_for(line.product_id, line.categories)
        if factor == 0:
            breakdown.append((line.line_id, "excluded"))
            continue
        qualifying = qualifying + line.total
        raw += line.total.amount * rule.points_per_unit * factor
        breakdown.append((line.line_id, f"x{factor}"))
    raw *= multiplier
    snapshot = dict(rule.snapshot(), multiplier=str(multiplier))
    return PointsCalculation(to_points(raw, rule.rounding), qualifying, snapshot, tuple(breakdown))
