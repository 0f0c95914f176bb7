"""Default tier decision: the ladder's own rules (upgrade now, downgrade after grace)."""

from __future__ import annotations

from decimal import Decimal

from loyalty_plugins.context import HookContext
from loyalty_plugins.domain.members import Member
from loyalty_plugins.domain.tiers import TierDecision, TierLadder
from loyalty_plugins.plugins import hookimpl


@hookimpl(trylast=True)
def loyalty_determine_tier(
    member: Member,
    qualifying: Decimal,
    ladder: TierLadder,
    after_refund: bool,
    ctx: HookContext,
) -> TierDecision:
    """Evaluate the ladder for ``member``."""
    return ladder.evaluate(
        member.tier, member.tier_below_since, qualifying, ctx.clock.now(), after_refund=after_refund
    )
