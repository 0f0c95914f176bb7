"""Default segment: members in a tier are segmented by it; others have none."""

from __future__ import annotations

from loyalty_plugins.context import HookContext
from loyalty_plugins.domain.members import Member
from loyalty_plugins.plugins import hookimpl


@hookimpl(trylast=True)
def loyalty_determine_segment(member: Member, ctx: HookContext) -> str | None:
    """``tier:<key>`` for members with a tier."""
    return f"tier:{member.tier}" if member.tier else None
