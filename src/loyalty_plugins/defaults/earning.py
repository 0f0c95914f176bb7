"""Default earning: the configured earn rule times the member's tier multiplier."""

from __future__ import annotations

from decimal import Decimal

from loyalty_plugins.context import HookContext
from loyalty_plugins.domain.members import Member
from loyalty_plugins.domain.orders import OrderSnapshot
from loyalty_plugins.domain.rules import EarnRule, PointsCalculation, calculate_points
from loyalty_plugins.plugins import hookimpl


@hookimpl(trylast=True)
def loyalty_calculate_order_points(
    order: OrderSnapshot, rule: EarnRule, member: Member | None, ctx: HookContext
) -> PointsCalculation:
    """Apply ``rule``; members in a tier earn with the tier's multiplier."""
    multiplier = Decimal(1)
    if member is not None and member.tier:
        tier = ctx.config.tier_ladder().get(member.tier)
        if tier is not None:
            multiplier = tier.earn_multiplier
    return calculate_points(order, rule, multiplier)
