"""Small builders for snapshots, so tests read like worked examples."""

from __future__ import annotations

from datetime import datetime

from loyalty_plugins.domain.money import Money
from loyalty_plugins.domain.orders import (
    CustomerRef,
    LineItem,
    OrderSnapshot,
    PaymentState,
    RefundSnapshot,
)

STORE = "shop"
PLATFORM = "woocommerce"


def customer(cid: str = "26", email: str | None = None) -> CustomerRef:
    return CustomerRef(PLATFORM, STORE, cid, email or f"c{cid}@example.com", "Ann", "Buyer")


def order(
    order_id: str,
    amount: str,
    when: datetime,
    *,
    cid: str = "26",
    currency: str = "EUR",
    state: PaymentState = PaymentState.PAID,
    lines: list[tuple[str, str, tuple[str, ...]]] | None = None,
) -> OrderSnapshot:
    """An order; ``lines`` are (product_id, line total, categories), default one line."""
    spec = lines or [("p1", amount, ())]
    items = tuple(
        LineItem(str(i), pid, 1, Money.of(total, currency), categories=cats)
        for i, (pid, total, cats) in enumerate(spec, start=1)
    )
    return OrderSnapshot(
        PLATFORM,
        STORE,
        order_id,
        state,
        currency,
        Money.of(amount, currency),
        customer(cid),
        when,
        items,
        paid_at=when,
    )


def refund(
    order_id: str, refund_id: str, amount: str, when: datetime, currency: str = "EUR"
) -> RefundSnapshot:
    return RefundSnapshot(PLATFORM, STORE, order_id, refund_id, Money.of(amount, currency), when)
