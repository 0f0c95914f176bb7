"""Tier evaluation on rolling spend (or points), inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Connection, func, insert, select, update

from loyalty_plugins.domain.events import EventKind
from loyalty_plugins.domain.members import Member
from loyalty_plugins.domain.money import from_minor
from loyalty_plugins.domain.tiers import TierDecision
from loyalty_plugins.services.runtime import Runtime, emit, load_member
from loyalty_plugins.storage import tables as t


def qualifying_value(rt: Runtime, conn: Connection, member_id: int, now: datetime) -> Decimal:
    """Net spend (after refunds) or net points of orders paid inside the tier window."""
    ladder = rt.ladder
    since = now - timedelta(days=ladder.window_days)
    o = t.orders
    window = (o.c.member_id == member_id, o.c.paid_at > since, o.c.paid_at <= now)
    if ladder.basis == "points":
        total = conn.execute(
            select(func.coalesce(func.sum(o.c.points_awarded - o.c.points_reversed), 0)).where(
                *window
            )
        ).scalar_one()
        return Decimal(int(total))
    minor = conn.execute(
        select(func.coalesce(func.sum(o.c.net_qualifying_minor), 0)).where(*window)
    ).scalar_one()
    return from_minor(int(minor), rt.config.currency).amount


def evaluate_member(
    rt: Runtime, conn: Connection, member: Member, *, after_refund: bool = False
) -> tuple[Member, TierDecision]:
    """Evaluate and store the member's tier; emits ``tier_changed`` on a move."""
    ladder = rt.ladder
    if not ladder.tiers:
        return member, TierDecision(member.tier, None, "no tiers")
    now = rt.now()
    value = qualifying_value(rt, conn, member.id, now)
    decision = rt.hooks.determine_tier(member, value, ladder, after_refund)
    changed = decision.tier != member.tier
    if not changed and decision.below_since == member.tier_below_since:
        return member, decision
    values: dict[str, object] = {"tier_below_since": decision.below_since}
    if changed:
        values.update(tier=decision.tier, tier_since=now)
        conn.execute(
            insert(t.tier_changes).values(
                member_id=member.id,
                from_tier=member.tier,
                to_tier=decision.tier,
                reason=decision.reason,
                qualifying=str(value),
                changed_at=now,
            )
        )
        emit(
            rt,
            conn,
            EventKind.TIER_CHANGED,
            member.id,
            {
                "from": member.tier,
                "to": decision.tier,
                "reason": decision.reason,
                "qualifying": str(value),
            },
        )
    conn.execute(update(t.members).where(t.members.c.id == member.id).values(**values))
    return load_member(conn, member.id), decision
