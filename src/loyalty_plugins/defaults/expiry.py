"""Default expiry: ``expiry_months`` after the points were earned (0: never)."""

from __future__ import annotations

import calendar
from datetime import datetime

from loyalty_plugins.context import HookContext
from loyalty_plugins.domain.members import Member
from loyalty_plugins.plugins import hookimpl


def add_months(when: datetime, months: int) -> datetime:
    """Same day ``months`` later, clamped to the month's last day (31 Jan + 1 = 28/29 Feb)."""
    index = when.month - 1 + months
    year, month = when.year + index // 12, index % 12 + 1
    day = min(when.day, calendar.monthrange(year, month)[1])
    return when.replace(year=year, month=month, day=day)


@hookimpl(trylast=True)
def loyalty_determine_points_expiry(
    member: Member, earned_at: datetime, points: int, ctx: HookContext
) -> datetime | bool:
    """Expire ``expiry_months`` after earning, or never when it is 0."""
    months = ctx.config.expiry_months
    if months == 0:
        return False
    return add_months(earned_at, months)
