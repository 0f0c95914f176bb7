"""Refunds: reverse exactly the share of the original award, by the stored award.

The reversal is computed on the cumulative refunded amount (``floor(awarded x
refunded / total)``, exact on a full refund), so several partial refunds never drift
from one refund of the same total and never reverse more than was awarded.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from loyalty_plugins.domain.events import EventKind
from loyalty_plugins.domain.money import from_minor, to_minor
from loyalty_plugins.domain.orders import RefundSnapshot
from loyalty_plugins.errors import CurrencyMismatch, OrderNotFound, RefundExceedsOrder
from loyalty_plugins.ledger.accounts import AccountKind
from loyalty_plugins.ledger.posting import Lot, lock_for_posting, request_hash
from loyalty_plugins.services.results import RefundResult
from loyalty_plugins.services.runtime import Runtime, emit, load_member, start_posting
from loyalty_plugins.services.tiers import evaluate_member
from loyalty_plugins.storage import tables as t


def _order_row(conn: Connection, order_key: str) -> Any:
    return conn.execute(select(t.orders).where(t.orders.c.source_key == order_key)).first()


def record_refund(rt: Runtime, refund: RefundSnapshot) -> RefundResult:
    """Record ``refund`` once and take back the points it cancels."""
    digest = request_hash(
        {
            "order": refund.order_key,
            "amount": str(refund.amount.amount),
            "currency": refund.amount.currency,
        }
    )

    def amount(row: Any) -> int:
        if refund.amount.currency != row.currency:
            raise CurrencyMismatch(refund.amount.currency, row.currency, f"refund {refund.key}")
        return to_minor(refund.amount)

    return _reverse(
        rt, refund.order_key, refund.key, digest, amount, refund.created_at, refund.reason
    )


def void_order(rt: Runtime, order_key: str, at: datetime, reason: str) -> RefundResult:
    """Reverse whatever an order still holds because it was cancelled or failed.

    The amount is what is not refunded yet, read under the member lock, so refunds
    recorded before the cancellation keep their own entries. Idempotent by order.
    """
    key = f"{order_key}:void"
    digest = request_hash({"order": order_key, "void": True})
    return _reverse(
        rt,
        order_key,
        key,
        digest,
        lambda row: int(row.total_minor) - int(row.refunded_minor),
        at,
        reason,
    )


def _reverse(
    rt: Runtime,
    order_key: str,
    key: str,
    digest: str,
    amount_of: Callable[[Any], int],
    created_at: datetime,
    reason: str,
) -> RefundResult:
    with rt.db.read() as conn:
        order = _order_row(conn, order_key)
    if order is None:
        raise OrderNotFound(order_key)
    member_id = int(order.member_id)

    def txn(conn: Connection) -> dict[str, Any]:
        locked = lock_for_posting(conn, member_id, key, digest)
        if locked.replay is not None:
            return locked.replay
        accounts = locked.accounts
        row = _order_row(conn, order_key)  # re-read under the member lock
        amount_minor = amount_of(row)
        refunded = int(row.refunded_minor) + amount_minor
        total = int(row.total_minor)
        if refunded > total:
            raise RefundExceedsOrder(
                order_key,
                from_minor(refunded, row.currency).amount,
                from_minor(total, row.currency).amount,
            )
        awarded, already = int(row.points_awarded), int(row.points_reversed)
        target = awarded if refunded == total else awarded * refunded // total
        due = max(0, target - already)
        posting = start_posting(
            rt,
            conn,
            accounts,
            key=key,
            digest=digest,
            kind="reversal",
            occurred_at=created_at,
            reason=reason or None,
        )
        lot = conn.execute(
            select(t.lots.c.id, t.lots.c.remaining, t.lots.c.state).where(
                t.lots.c.order_id == row.id
            )
        ).first()
        taken = 0
        if lot is not None:
            taken = posting.take_from_lot(
                Lot(lot.id, lot.remaining, lot.state), due, AccountKind.REVERSED, "refund"
            )
        shortfall = due - taken
        policy = rt.config.clawback
        if shortfall and policy in ("negative", "forfeit"):
            shortfall -= posting.consume_fifo(
                shortfall,
                AccountKind.REVERSED,
                "refund",
                exclude_lot=lot.id if lot is not None else None,
            )
        forgiven = debt = 0
        if shortfall and policy == "forfeit":
            forgiven = shortfall
        elif shortfall:
            debt = shortfall
            posting.transfer(AccountKind.DEBT, AccountKind.REVERSED, debt, "refund_debt")
        qualifying = int(row.qualifying_minor)
        net_qualifying = qualifying - qualifying * refunded // total if total else 0
        conn.execute(
            update(t.orders)
            .where(t.orders.c.id == row.id)
            .values(
                refunded_minor=refunded,
                net_qualifying_minor=net_qualifying,
                points_reversed=already + due,
                points_forgiven=t.orders.c.points_forgiven + forgiven,
            )
        )
        if amount_minor > 0:  # a void of a fully refunded order moves nothing
            conn.execute(
                insert(t.refunds).values(
                    source_key=key,
                    order_id=row.id,
                    amount_minor=amount_minor,
                    points_reversed=due,
                    created_at=created_at,
                    reason=reason or None,
                    journal_id=posting.journal_id,
                )
            )
        data = {
            "order": order_key,
            "refund": key,
            "amount": str(from_minor(amount_minor, row.currency).amount),
            "points": due,
            "forgiven": forgiven,
            "debt": debt,
        }
        emit(rt, conn, EventKind.ORDER_REFUNDED, member_id, data)
        if due:
            emit(rt, conn, EventKind.POINTS_REVERSED, member_id, data)
        member, _ = evaluate_member(rt, conn, load_member(conn, member_id), after_refund=True)
        return posting.finish(
            {
                "member_id": member_id,
                "points": due,
                "forgiven": forgiven,
                "debt": debt,
                "tier": member.tier,
            }
        )

    result = rt.db.write(txn)
    return RefundResult(
        key,
        member_id,
        int(result["points"]),
        int(result["forgiven"]),
        int(result["debt"]),
        bool(result["replayed"]),
        result.get("tier"),
    )
