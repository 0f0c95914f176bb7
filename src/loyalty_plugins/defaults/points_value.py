"""Default points value: a fixed money value per point from ``point_value``."""

from __future__ import annotations

from loyalty_plugins.context import HookContext
from loyalty_plugins.domain.money import Money
from loyalty_plugins.plugins import hookimpl


@hookimpl(trylast=True)
def loyalty_calculate_points_value(points: int, currency: str, ctx: HookContext) -> Money:
    """``points x point_value`` in ``currency``."""
    return Money(ctx.config.point_value * points, currency)
