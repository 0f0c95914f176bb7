"""Due work for cron: pending lots become available, old lots expire, tiers move."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, or_, select, update

from loyalty_plugins.domain.events import EventKind
from loyalty_plugins.ledger.accounts import AccountKind, lock_member
from loyalty_plugins.ledger.posting import Lot, Posting
from loyalty_plugins.services.results import MaintenanceResult, TierRunResult
from loyalty_plugins.services.runtime import Runtime, emit, load_member
from loyalty_plugins.services.tiers import evaluate_member
from loyalty_plugins.storage import tables as t

#: Called as ``progress(done, total)`` after each member, for progress bars.
Progress = Callable[[int, int], None]


@dataclass
class _Counts:
    matured_lots: int = 0
    matured_points: int = 0
    expired_lots: int = 0
    expired_points: int = 0


def _members_with_due_lots(rt: Runtime) -> list[int]:
    now = rt.now()
    lots = t.lots
    with rt.db.read() as conn:
        rows = conn.execute(
            select(lots.c.member_id)
            .where(
                lots.c.remaining > 0,
                or_(
                    (lots.c.state == "pending") & (lots.c.available_at <= now),
                    lots.c.expires_at <= now,
                ),
            )
            .distinct()
            .order_by(lots.c.member_id)
        )
        return [int(r.member_id) for r in rows]


def _process_member(rt: Runtime, member_id: int) -> _Counts:
    def txn(conn: Connection) -> _Counts:
        counts = _Counts()
        now = rt.now()
        accounts = lock_member(conn, member_id)
        lots = t.lots
        due = conn.execute(
            select(
                lots.c.id, lots.c.remaining, lots.c.state, lots.c.available_at, lots.c.expires_at
            )
            .where(lots.c.member_id == member_id, lots.c.remaining > 0)
            .where(
                or_(
                    (lots.c.state == "pending") & (lots.c.available_at <= now),
                    lots.c.expires_at <= now,
                )
            )
            .order_by(lots.c.earned_at, lots.c.id)
        ).all()
        if not due:
            return counts
        posting = Posting(
            conn,
            rt.system,
            accounts,
            key=f"maintenance:{member_id}:{uuid.uuid4().hex}",
            digest="-",
            kind="maintenance",
            occurred_at=now,
            recorded_at=now,
        )
        for row in due:
            lot = Lot(row.id, row.remaining, row.state)
            if row.state == "pending" and row.available_at <= now:
                posting.transfer(
                    AccountKind.PENDING, AccountKind.AVAILABLE, lot.remaining, "mature", lot.id
                )
                conn.execute(update(lots).where(lots.c.id == lot.id).values(state="available"))
                lot.state = "available"
                counts.matured_lots += 1
                counts.matured_points += lot.remaining
            if row.expires_at is not None and row.expires_at <= now:
                counts.expired_points += posting.take_from_lot(
                    lot, lot.remaining, AccountKind.EXPIRED, "expire"
                )
                counts.expired_lots += 1
        if counts.expired_points:
            emit(rt, conn, EventKind.POINTS_EXPIRED, member_id, {"points": counts.expired_points})
        posting.finish(
            {
                "member_id": member_id,
                "matured": counts.matured_points,
                "expired": counts.expired_points,
            }
        )
        return counts

    return rt.db.write(txn)


def expire_due(rt: Runtime, progress: Progress | None = None) -> MaintenanceResult:
    """Mature and expire every due lot, one member per transaction (safe to re-run)."""
    total = _Counts()
    members = _members_with_due_lots(rt)
    for done, member_id in enumerate(members, start=1):
        counts = _process_member(rt, member_id)
        if progress is not None:
            progress(done, len(members))
        total.matured_lots += counts.matured_lots
        total.matured_points += counts.matured_points
        total.expired_lots += counts.expired_lots
        total.expired_points += counts.expired_points
    return MaintenanceResult(
        len(members),
        total.matured_lots,
        total.matured_points,
        total.expired_lots,
        total.expired_points,
    )


def evaluate_tiers(rt: Runtime, progress: Progress | None = None) -> TierRunResult:
    """Re-evaluate every member's tier (time-based roll-off, grace periods)."""
    with rt.db.read() as conn:
        ids = [
            int(r.id)
            for r in conn.execute(
                select(t.members.c.id)
                .where(t.members.c.redacted_at.is_(None))
                .order_by(t.members.c.id)
            )
        ]
    ladder = rt.ladder
    up = down = grace = 0
    changes: list[tuple[int, str | None, str | None]] = []
    for done, member_id in enumerate(ids, start=1):
        if progress is not None:
            progress(done, len(ids))

        def txn(conn: Connection, member_id: int = member_id) -> tuple[str | None, str | None, str]:
            lock_member(conn, member_id)
            before = load_member(conn, member_id)
            after, decision = evaluate_member(rt, conn, before)
            return before.tier, after.tier, decision.reason

        old, new, reason = rt.db.write(txn)
        if old != new:
            changes.append((member_id, old, new))
            if ladder.rank(new) > ladder.rank(old):
                up += 1
            else:
                down += 1
        elif reason == "grace":
            grace += 1
    return TierRunResult(len(ids), up, down, grace, tuple(changes))
