"""In-memory records of the WooCommerce emulator (orders, customers, coupons, ...).

Records are small slotted dataclasses so that a store can hold 50,000 orders. They are
turned into the JSON shapes of the real ``wc/v3`` API by :mod:`.render`. Money is always
``Decimal``; WooCommerce (PHP ``round``) rounds half away from zero, so does this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timezone, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = [
    "CENT",
    "ZERO",
    "Address",
    "Category",
    "Coupon",
    "CouponLine",
    "Customer",
    "FeeLine",
    "LineItem",
    "Meta",
    "Order",
    "Product",
    "Refund",
    "ShippingLine",
    "Stamp",
    "TaxLine",
    "TaxShare",
    "Webhook",
    "WooRestError",
    "money",
]

ZERO = Decimal("0.00")
CENT = Decimal("0.01")


def money(value: Decimal | int | str) -> Decimal:
    """Round ``value`` to cents, half away from zero (like PHP ``round``)."""
    number = value if isinstance(value, Decimal) else Decimal(value)
    result = number.quantize(CENT, rounding=ROUND_HALF_UP)
    if not result:
        return ZERO
    # Many amounts repeat (prices, taxes, shipping): share one object per value.
    if len(_INTERNED) < 200_000:
        return _INTERNED.setdefault(result, result)
    return result


_INTERNED: dict[Decimal, Decimal] = {}


class WooRestError(Exception):
    """An error answered with the WordPress REST envelope ``{code, message, data}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    def envelope(self) -> dict[str, Any]:
        """The JSON body WordPress sends for this error."""
        data: dict[str, Any] = {"status": self.status}
        data.update(self.extra)
        return {"code": self.code, "message": self.message, "data": data}


@dataclass(frozen=True, slots=True)
class Stamp:
    """One instant as WooCommerce shows it: site-local and GMT wall times (naive, seconds)."""

    local: datetime
    gmt: datetime

    @classmethod
    def of(cls, when: datetime, tz: tzinfo) -> Stamp:
        """Build from an aware datetime (naive input is taken as UTC)."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        if when.microsecond:
            when = when.replace(microsecond=0)
        gmt = (when if when.tzinfo is UTC else when.astimezone(UTC)).replace(tzinfo=None)
        if isinstance(tz, timezone):  # fixed offset: no DST lookups needed
            return cls(local=gmt + tz.utcoffset(None), gmt=gmt)
        return cls(local=when.astimezone(tz).replace(tzinfo=None), gmt=gmt)

    @property
    def aware(self) -> datetime:
        """The instant as an aware UTC datetime."""
        return self.gmt.replace(tzinfo=UTC)


@dataclass(slots=True)
class Meta:
    """One ``meta_data`` entry ``{id, key, value}``."""

    id: int
    key: str
    value: Any


@dataclass(frozen=True, slots=True)
class Address:
    """A billing or shipping address (shipping ones render without e-mail and phone)."""

    first_name: str
    last_name: str
    company: str
    address_1: str
    address_2: str
    city: str
    state: str
    postcode: str
    country: str
    email: str = ""
    phone: str = ""


@dataclass(frozen=True, slots=True)
class TaxShare:
    """One entry of a line's ``taxes`` list (unrounded, like core stores them)."""

    rate_id: int
    total: Decimal
    subtotal: Decimal


@dataclass(slots=True)
class LineItem:
    """A product line of an order, or (with negative numbers) of a refund."""

    id: int
    name: str
    product_id: int
    variation_id: int
    quantity: int
    tax_class: str
    subtotal: Decimal
    subtotal_tax: Decimal
    total: Decimal
    total_tax: Decimal
    taxes: tuple[TaxShare, ...]
    meta_data: list[Meta]
    sku: str


@dataclass(slots=True)
class ShippingLine:
    """A shipping line."""

    id: int
    method_title: str
    method_id: str
    total: Decimal
    total_tax: Decimal
    taxes: tuple[TaxShare, ...]
    meta_data: list[Meta] = field(default_factory=list)


@dataclass(slots=True)
class TaxLine:
    """A tax summary line."""

    id: int
    rate_code: str
    rate_id: int
    label: str
    compound: bool
    tax_total: Decimal
    shipping_tax_total: Decimal
    meta_data: list[Meta] = field(default_factory=list)


@dataclass(slots=True)
class CouponLine:
    """A coupon applied to an order."""

    id: int
    code: str
    discount: Decimal
    discount_tax: Decimal
    meta_data: list[Meta] = field(default_factory=list)


@dataclass(slots=True)
class FeeLine:
    """A fee line (unused by the generator, kept for orders created by tests)."""

    id: int
    name: str
    tax_class: str
    tax_status: str
    total: Decimal
    total_tax: Decimal
    taxes: tuple[TaxShare, ...] = ()
    meta_data: list[Meta] = field(default_factory=list)


@dataclass(slots=True)
class Refund:
    """An order refund; ``amount`` is positive, its line items are negative."""

    id: int
    order_id: int
    date_created: Stamp
    amount: Decimal
    reason: str
    refunded_by: int
    refunded_payment: bool
    meta_data: list[Meta]
    line_items: list[LineItem]


@dataclass(slots=True)
class Order:
    """A shop order."""

    id: int
    parent_id: int
    order_key: str
    created_via: str
    version: str
    status: str
    currency: str
    date_created: Stamp
    date_modified: Stamp
    prices_include_tax: bool
    customer_id: int
    customer_ip_address: str
    customer_user_agent: str
    customer_note: str
    billing: Address
    shipping: Address
    payment_method: str
    payment_method_title: str
    transaction_id: str
    date_paid: Stamp | None
    date_completed: Stamp | None
    cart_hash: str
    meta_data: list[Meta]
    line_items: list[LineItem]
    tax_lines: list[TaxLine]
    shipping_lines: list[ShippingLine]
    fee_lines: list[FeeLine]
    coupon_lines: list[CouponLine]
    refunds: list[Refund]
    discount_total: Decimal = ZERO
    discount_tax: Decimal = ZERO
    shipping_total: Decimal = ZERO
    shipping_tax: Decimal = ZERO
    cart_tax: Decimal = ZERO
    total: Decimal = ZERO
    total_tax: Decimal = ZERO

    def recalculate_totals(self) -> None:
        """Recompute the order-level totals from its lines (no rounding drift)."""
        subtotal = subtotal_tax = items_total = items_tax = ZERO
        for item in self.line_items:
            subtotal += item.subtotal
            subtotal_tax += item.subtotal_tax
            items_total += item.total
            items_tax += item.total_tax
        shipping = shipping_tax = fee_total = fee_tax = ZERO
        for line in self.shipping_lines:
            shipping += line.total
            shipping_tax += line.total_tax
        for fee in self.fee_lines:
            fee_total += fee.total
            fee_tax += fee.total_tax
        self.discount_total = money(subtotal - items_total)
        self.discount_tax = money(subtotal_tax - items_tax)
        self.shipping_total = money(shipping)
        self.shipping_tax = money(shipping_tax)
        self.cart_tax = money(items_tax + fee_tax)
        self.total_tax = money(self.cart_tax + self.shipping_tax)
        self.total = money(items_total + self.shipping_total + fee_total + self.total_tax)

    @property
    def refunded_total(self) -> Decimal:
        """Sum of all refund amounts."""
        return money(sum((r.amount for r in self.refunds), ZERO))


@dataclass(slots=True)
class Customer:
    """A registered WordPress user (role ``customer`` unless stated)."""

    id: int
    date_created: Stamp
    date_modified: Stamp
    email: str
    first_name: str
    last_name: str
    role: str
    username: str
    billing: Address
    shipping: Address
    is_paying_customer: bool
    meta_data: list[Meta]


@dataclass(slots=True)
class Category:
    """A product category term."""

    id: int
    name: str
    slug: str
    parent: int = 0
    description: str = ""
    display: str = "default"
    menu_order: int = 0
    count: int = 0


@dataclass(slots=True)
class Product:
    """A product, or a variation of a variable product (``parent_id`` set)."""

    id: int
    name: str
    slug: str
    type: str
    sku: str
    regular_price: Decimal
    date_created: Stamp
    date_modified: Stamp
    categories: tuple[int, ...]
    virtual: bool = False
    tax_status: str = "taxable"
    total_sales: int = 0
    parent_id: int = 0
    variations: list[int] = field(default_factory=list)
    attributes: list[dict[str, Any]] = field(default_factory=list)
    status: str = "publish"
    description: str = ""
    short_description: str = ""


@dataclass(slots=True)
class Coupon:
    """A shop coupon (``shop_coupon`` post)."""

    id: int
    code: str
    amount: Decimal
    date_created: Stamp
    date_modified: Stamp
    discount_type: str = "fixed_cart"
    description: str = ""
    date_expires: Stamp | None = None
    usage_count: int = 0
    individual_use: bool = False
    product_ids: list[int] = field(default_factory=list)
    excluded_product_ids: list[int] = field(default_factory=list)
    usage_limit: int | None = None
    usage_limit_per_user: int | None = None
    limit_usage_to_x_items: int | None = None
    free_shipping: bool = False
    product_categories: list[int] = field(default_factory=list)
    excluded_product_categories: list[int] = field(default_factory=list)
    exclude_sale_items: bool = False
    minimum_amount: Decimal = ZERO
    maximum_amount: Decimal = ZERO
    email_restrictions: list[str] = field(default_factory=list)
    used_by: list[str] = field(default_factory=list)
    meta_data: list[Meta] = field(default_factory=list)
    status: str = "publish"


@dataclass(slots=True)
class Webhook:
    """A registered webhook; ``secret`` is write-only in the API."""

    id: int
    name: str
    status: str
    topic: str
    delivery_url: str
    secret: str
    date_created: Stamp
    date_modified: Stamp
    failure_count: int = 0
    api_version: str = "wp_api_v3"

    @property
    def resource(self) -> str:
        """``order`` for ``order.updated``."""
        return self.topic.split(".", 1)[0]

    @property
    def event(self) -> str:
        """``updated`` for ``order.updated``."""
        return self.topic.split(".", 1)[1] if "." in self.topic else ""
