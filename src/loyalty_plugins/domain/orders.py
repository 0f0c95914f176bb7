"""Immutable snapshots of what a store reports: orders, their lines and refunds.

Adapters map platform JSON into these; the core never sees platform shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from loyalty_plugins.domain.money import Money
from loyalty_plugins.errors import CurrencyMismatch, InvalidAmount, ValidationError


class PaymentState(StrEnum):
    """What an order's status means for loyalty."""

    PAID = "paid"  #: money received: earns points
    NOT_YET = "not_yet"  #: pending / on-hold: may still become paid
    VOID = "void"  #: cancelled / failed / fully refunded before payment: never earns


@dataclass(frozen=True, slots=True)
class CustomerRef:
    """Who placed an order, as the store knows them (guest orders have no external id)."""

    platform: str
    store: str
    external_id: str | None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None

    def __post_init__(self) -> None:
        if not self.external_id and not self.email:
            raise ValidationError("customer", "needs an external id or an e-mail")


@dataclass(frozen=True, slots=True)
class LineItem:
    """One order line; ``total`` is after discounts and before tax."""

    line_id: str
    product_id: str
    quantity: int
    total: Money
    name: str = ""
    sku: str = ""
    categories: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int):
            raise InvalidAmount("quantity", f"{self.quantity!r} is not an integer")
        if self.quantity < 0:
            raise InvalidAmount("quantity", f"line {self.line_id}: negative quantity")
        if self.total.amount < 0:
            raise InvalidAmount("total", f"line {self.line_id}: negative total")


@dataclass(frozen=True, slots=True)
class OrderSnapshot:
    """An order as reported by the store at one moment."""

    platform: str
    store: str
    order_id: str
    state: PaymentState
    currency: str
    total: Money
    customer: CustomerRef
    placed_at: datetime
    lines: tuple[LineItem, ...] = ()
    paid_at: datetime | None = None
    modified_at: datetime | None = None
    number: str = ""
    shipping_total: Money | None = None
    tax_total: Money | None = None
    raw_status: str = ""
    coupon_codes: tuple[str, ...] = ()
    attributes: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.order_id:
            raise ValidationError("order_id", "is empty")
        if self.total.amount < 0:
            raise InvalidAmount("total", f"order {self.order_id}: negative total")
        if self.total.currency != self.currency:
            raise CurrencyMismatch(self.currency, self.total.currency, f"order {self.order_id}")
        for line in self.lines:
            if line.total.currency != self.currency:
                raise CurrencyMismatch(
                    self.currency, line.total.currency, f"order {self.order_id} line"
                )
        if self.placed_at.tzinfo is None:
            raise ValidationError("placed_at", "must be timezone-aware")

    @property
    def key(self) -> str:
        """Stable source key ``platform:store:order``."""
        return f"{self.platform}:{self.store}:{self.order_id}"

    @property
    def effective_paid_at(self) -> datetime:
        """When the order counts as paid (falls back to when it was placed)."""
        return self.paid_at or self.placed_at


@dataclass(frozen=True, slots=True)
class RefundLine:
    """A refunded quantity/amount of one order line (amount positive)."""

    line_id: str
    quantity: int
    amount: Money


@dataclass(frozen=True, slots=True)
class RefundSnapshot:
    """A refund of (part of) an order; ``amount`` is positive."""

    platform: str
    store: str
    order_id: str
    refund_id: str
    amount: Money
    created_at: datetime
    reason: str = ""
    lines: tuple[RefundLine, ...] = ()

    def __post_init__(self) -> None:
        if not self.refund_id:
            raise ValidationError("refund_id", "is empty")
        if self.amount.amount <= 0:
            raise InvalidAmount("amount", f"refund {self.refund_id}: must be positive")
        if self.created_at.tzinfo is None:
            raise ValidationError("created_at", "must be timezone-aware")

    @property
    def order_key(self) -> str:
        """Key of the refunded order."""
        return f"{self.platform}:{self.store}:{self.order_id}"

    @property
    def key(self) -> str:
        """Stable source key ``platform:store:order:refund:id``."""
        return f"{self.order_key}:refund:{self.refund_id}"
