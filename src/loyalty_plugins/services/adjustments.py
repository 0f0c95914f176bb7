"""Manual adjustments with a required reason and actor (recorded in the journal)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection

from loyalty_plugins.domain.events import EventKind
from loyalty_plugins.domain.points import MAX_POINTS
from loyalty_plugins.errors import (
    InsufficientPoints,
    InvalidAmount,
    ValidationError,
)
from loyalty_plugins.ledger.accounts import AccountKind
from loyalty_plugins.ledger.posting import lock_for_posting, request_hash
from loyalty_plugins.services.results import AdjustResult
from loyalty_plugins.services.runtime import Runtime, emit, start_posting


def adjust(
    rt: Runtime,
    member_id: int,
    points: int,
    *,
    reason: str,
    actor: str,
    idempotency_key: str | None = None,
    kind: str = "adjustment",
) -> AdjustResult:
    """Add (positive) or remove (negative) points; removal never goes below zero."""
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise InvalidAmount("points", f"{points!r} must be a non-zero integer")
    if abs(points) > MAX_POINTS:
        raise InvalidAmount("points", f"{points} exceeds the maximum of {MAX_POINTS}")
    if not reason or not reason.strip():
        raise ValidationError("reason", "an adjustment needs a reason")
    if not actor or not actor.strip():
        raise ValidationError("actor", "an adjustment needs the name of who made it")
    key = f"{kind}:{idempotency_key or uuid.uuid4().hex}"
    digest = request_hash({"member": member_id, "points": points, "reason": reason.strip()})

    def txn(conn: Connection) -> dict[str, Any]:
        locked = lock_for_posting(conn, member_id, key, digest)
        if locked.replay is not None:
            return locked.replay
        accounts, member = locked.accounts, locked.member
        now = rt.now()
        posting = start_posting(
            rt,
            conn,
            accounts,
            key=key,
            digest=digest,
            kind=kind,
            occurred_at=now,
            actor=actor.strip(),
            reason=reason.strip(),
        )
        if points > 0:
            debt = -accounts.balances[AccountKind.DEBT]
            settled = min(points, debt)
            posting.transfer(AccountKind.ISSUED, AccountKind.DEBT, settled, "debt_settlement")
            rest = points - settled
            if rest:
                lot_id = posting.add_lot(
                    rest,
                    state="available",
                    earned_at=now,
                    available_at=now,
                    expires_at=rt.hooks.determine_points_expiry(member, now, rest),
                    order_id=None,
                )
                posting.transfer(AccountKind.ISSUED, AccountKind.AVAILABLE, rest, kind, lot_id)
            emit(rt, conn, EventKind.POINTS_EARNED, member_id, {"points": points, "reason": reason})
        else:
            wanted = -points
            if accounts.balances[AccountKind.AVAILABLE] < wanted:
                raise InsufficientPoints(
                    member_id, wanted, accounts.balances[AccountKind.AVAILABLE]
                )
            posting.consume_fifo(wanted, AccountKind.ADJUSTED, kind)
            emit(
                rt, conn, EventKind.POINTS_REVERSED, member_id, {"points": wanted, "reason": reason}
            )
        return posting.finish({"member_id": member_id, "points": points})

    result = rt.db.write(txn)
    return AdjustResult(member_id, points, int(result["journal_id"]), bool(result["replayed"]))
