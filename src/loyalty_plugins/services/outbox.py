"""Dispatch of committed events to ``loyalty_on_*`` hooks.

Each row is claimed with a conditional UPDATE before its hooks run, so two processes
never deliver the same event; a crash between claim and delivery loses that delivery
(at-most-once), which suits notifications. Failures are stored on the row.
"""

from __future__ import annotations

from dataclasses import asdict
from functools import partial
from typing import Any

from sqlalchemy import Connection, select, update

from loyalty_plugins.domain.events import EventKind, LoyaltyEvent
from loyalty_plugins.services.runtime import Runtime
from loyalty_plugins.storage import tables as t


def _claim(rt: Runtime, conn: Connection, row_id: int) -> int:
    o = t.outbox
    claim = update(o).where(o.c.id == row_id, o.c.dispatched_at.is_(None))
    return int(conn.execute(claim.values(dispatched_at=rt.now())).rowcount)


def _record(conn: Connection, row_id: int, failures: list[dict[str, Any]]) -> None:
    conn.execute(update(t.outbox).where(t.outbox.c.id == row_id).values(failures=failures))


def dispatch_pending(rt: Runtime, *, limit: int = 1000) -> int:
    """Deliver undispatched events, oldest first; returns how many were delivered."""
    o = t.outbox
    with rt.db.read() as conn:
        rows = conn.execute(
            select(o).where(o.c.dispatched_at.is_(None)).order_by(o.c.id).limit(limit)
        ).all()
    delivered = 0
    for row in rows:
        if not rt.db.write(partial(_claim, rt, row_id=row.id)):
            continue  # another process took it
        event = LoyaltyEvent(row.id, EventKind(row.kind), row.member_id, row.occurred_at, row.data)
        failures = rt.hooks.dispatch_event(event)
        delivered += 1
        if failures:
            stored = [asdict(failure) for failure in failures]
            rt.db.write(partial(_record, row_id=row.id, failures=stored))
    return delivered
