"""Dispatch of committed events to ``loyalty_on_*`` hooks.

Each row is claimed with a conditional UPDATE before its hooks run, so two processes
never deliver the same event; a crash between claim and delivery loses that delivery
(at-most-once), which suits notifications. Failures are stored on the row.
"""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import select, update

from loyalty_plugins.domain.events import EventKind, LoyaltyEvent
from loyalty_plugins.services.runtime import Runtime
from loyalty_plugins.storage import tables as t


def dispatch_pending(rt: Runtime, *, limit: int = 1000) -> int:
    """Deliver undispatched events, oldest first; returns how many were delivered."""
    o = t.outbox
    with rt.db.read() as conn:
        rows = conn.execute(
            select(o).where(o.c.dispatched_at.is_(None)).order_by(o.c.id).limit(limit)
        ).all()
    delivered = 0
    for row in rows:
        claimed = rt.db.write(
            lambda conn, row_id=row.id: conn.execute(
                update(o).where(o.c.id == row_id, o.c.dispatched_at.is_(None)).values(
                    dispatched_at=rt.now()
                )
            ).rowcount
        )
        if not claimed:
            continue
        event = LoyaltyEvent(row.id, EventKind(row.kind), row.member_id, row.occurred_at, row.data)
        failures = rt.hooks.dispatch_event(event)
        delivered += 1
        if failures:
            rt.db.write(
                lambda conn, row_id=row.id, f=failures: conn.execute(
                    update(o).where(o.c.id == row_id).values(failures=[asdict(x) for x in f])
                )
            )
    return delivered
