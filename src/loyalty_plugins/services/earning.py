"""Recording a paid order: one idempotent award, pending until the return window ends."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection

from loyalty_plugins.domain.events import EventKind
from loyalty_plugins.domain.money import to_minor
from loyalty_plugins.domain.orders import OrderSnapshot, PaymentState
from loyalty_plugins.errors import CurrencyMismatch
from loyalty_plugins.ledger.accounts import AccountKind
from loyalty_plugins.ledger.posting import lock_for_posting, request_hash
from loyalty_plugins.services.results import OrderResult
from loyalty_plugins.services.runtime import Runtime, emit, start_posting
from loyalty_plugins.services.tiers import evaluate_member
from loyalty_plugins.storage import tables as t
from loyalty_plugins.storage.driver_sql import insert_sql

_INSERT_ORDER = insert_sql(
    t.orders,
    (
        "source_key",
        "member_id",
        "platform",
        "store",
        "external_id",
        "currency",
        "total_minor",
        "qualifying_minor",
        "refunded_minor",
        "net_qualifying_minor",
        "points_awarded",
        "points_reversed",
        "points_forgiven",
        "rule",
        "paid_at",
        "journal_id",
    ),
    returning_id=True,
)


def award_request(order: OrderSnapshot) -> dict[str, Any]:
    """The part of an order that decides its award (hashed for idempotency).

    Status, modification time and payment time may change between deliveries of the same
    paid order without changing what it earns, so they are left out.
    """
    return {
        "currency": order.currency,
        "total": str(order.total.amount),
        # The store's customer id, not the e-mail: fixing a typo in the billing address
        # must not make the same order look like a different award.
        "customer": order.customer.external_id,
        "lines": [
            [li.line_id, li.product_id, li.quantity, str(li.total.amount), list(li.categories)]
            for li in order.lines
        ],
    }


def record_order(rt: Runtime, order: OrderSnapshot) -> OrderResult:
    """Award points for ``order`` once, however often it is delivered."""
    if order.state is PaymentState.NOT_YET:
        return OrderResult(order.key, "not_paid")
    if order.state is PaymentState.VOID:
        return OrderResult(order.key, "void")
    if order.currency != rt.config.currency:
        raise CurrencyMismatch(order.currency, rt.config.currency, f"order {order.key}")
    member_id = rt.hooks.resolve_member(order.customer)
    if member_id is None:
        return OrderResult(order.key, "skipped")
    key = f"{order.key}:award"
    digest = request_hash(award_request(order))

    def txn(conn: Connection) -> dict[str, Any]:
        locked = lock_for_posting(conn, member_id, key, digest)
        if locked.replay is not None:
            return dict(locked.replay, tier=locked.member.tier)
        accounts, member = locked.accounts, locked.member
        calc = rt.hooks.calculate_order_points(order, rt.earn_rule, member)
        bonuses = rt.hooks.collect_bonus_points(order, member, calc)
        points = calc.points + sum(b.points for b in bonuses)
        now = rt.now()
        paid_at = order.effective_paid_at
        posting = start_posting(
            rt,
            conn,
            accounts,
            key=key,
            digest=digest,
            kind="award",
            occurred_at=paid_at,
            result={"member_id": member_id, "points": points},
        )
        rule = dict(calc.rule, bonuses=[[b.reason, b.points] for b in bonuses])
        qualifying = to_minor(calc.qualifying)
        order_id = _INSERT_ORDER.insert_id(
            conn,
            {
                "source_key": order.key,
                "member_id": member_id,
                "platform": order.platform,
                "store": order.store,
                "external_id": order.order_id,
                "currency": order.currency,
                "total_minor": to_minor(order.total),
                "qualifying_minor": qualifying,
                "refunded_minor": 0,
                "net_qualifying_minor": qualifying,
                "points_awarded": points,
                "points_reversed": 0,
                "points_forgiven": 0,
                "rule": rule,
                "paid_at": paid_at,
                "journal_id": posting.journal_id,
            },
        )
        debt = -accounts.balances[AccountKind.DEBT]
        settled = min(points, debt)
        posting.transfer(AccountKind.ISSUED, AccountKind.DEBT, settled, "debt_settlement")
        lot_points = points - settled
        if lot_points > 0:
            available_at = paid_at + timedelta(days=rt.config.return_window_days)
            state = "available" if available_at <= now else "pending"
            expires_at = rt.hooks.determine_points_expiry(member, paid_at, lot_points)
            lot_id = posting.add_lot(
                lot_points,
                state=state,
                earned_at=paid_at,
                available_at=available_at,
                expires_at=expires_at,
                order_id=order_id,
            )
            destination = AccountKind.AVAILABLE if state == "available" else AccountKind.PENDING
            posting.transfer(AccountKind.ISSUED, destination, lot_points, "earn", lot_id)
        event = {
            "order": order.key,
            "points": points,
            "total": str(order.total.amount),
            "currency": order.currency,
        }
        kinds = (
            (EventKind.ORDER_PAID, EventKind.POINTS_EARNED) if points else (EventKind.ORDER_PAID,)
        )
        emit(rt, conn, kinds, member_id, event)
        member, _ = evaluate_member(rt, conn, member)
        return dict(posting.finish(), tier=member.tier)

    result = rt.db.write(txn)
    return OrderResult(
        order.key,
        "awarded",
        member_id,
        int(result["points"]),
        bool(result["replayed"]),
        result.get("tier"),
    )
