"""Thread-safe in-memory WooCommerce store: the data behind the emulator.

Every mutation runs under one re-entrant lock, bumps ``date_modified(_gmt)`` the way core
does, and tells listeners (``"order.updated"``, 42) so the emulator can deliver webhooks.
Readers that render several objects should hold :attr:`WooStore.lock` while doing so.

Behaviour copied from WooCommerce core on purpose:

* meta writes are upserts by key (or by ``id`` when given), a ``null`` value deletes the
  key, and scalar values come back as strings (WordPress stores meta as text);
* coupon codes are lower-cased, and a duplicate code is refused;
* redeeming a coupon raises ``usage_count`` and ``used_by`` but does **not** bump the
  coupon's ``date_modified`` (core writes that meta directly);
* a refund that covers the order total moves the order to ``refunded``.
"""

from __future__ import annotations

import hashlib
import random
import re
import string
import threading
from bisect import insort
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from .models import (
    ZERO,
    Address,
    Category,
    Coupon,
    CouponLine,
    Customer,
    LineItem,
    Meta,
    Order,
    Product,
    Refund,
    ShippingLine,
    Stamp,
    TaxLine,
    TaxShare,
    Webhook,
    WooRestError,
    money,
)
from .validation import (
    expect_bool,
    expect_int,
    expect_int_list,
    expect_str,
    invalid_param,
    parse_wp_date,
    to_decimal,
    wp_list,
)

__all__ = [
    "ORDER_STATUSES",
    "PAID_STATUSES",
    "WEBHOOK_TOPIC_HOOKS",
    "ClockLike",
    "CouponNotUsableError",
    "OrderQuery",
    "WooStore",
    "upsert_meta",
]

#: Order statuses core registers (``wc_get_order_statuses`` without the ``wc-`` prefix).
ORDER_STATUSES: tuple[str, ...] = (
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "checkout-draft",
)
#: Statuses for which core sets ``date_paid`` (``wc_get_is_paid_statuses``).
PAID_STATUSES: frozenset[str] = frozenset({"processing", "completed"})

#: Hooks core lists for each webhook topic (``WC_Webhook::get_default_topic_hooks``).
WEBHOOK_TOPIC_HOOKS: dict[str, list[str]] = {
    "coupon.created": ["woocommerce_process_shop_coupon_meta", "woocommerce_new_coupon"],
    "coupon.updated": ["woocommerce_process_shop_coupon_meta", "woocommerce_update_coupon"],
    "coupon.deleted": ["wp_trash_post"],
    "coupon.restored": ["untrashed_post"],
    "customer.created": [
        "user_register",
        "woocommerce_created_customer",
        "woocommerce_new_customer",
    ],
    "customer.updated": ["profile_update", "woocommerce_update_customer"],
    "customer.deleted": ["delete_user"],
    "order.created": ["woocommerce_new_order"],
    "order.updated": [
        "woocommerce_update_order",
        "woocommerce_order_refunded",
        "woocommerce_delete_order_refund",
    ],
    "order.deleted": ["wp_trash_post", "woocommerce_trash_order"],
    "order.restored": ["untrashed_post", "woocommerce_untrash_order"],
    "product.created": ["woocommerce_process_product_meta", "woocommerce_new_product"],
    "product.updated": ["woocommerce_process_product_meta", "woocommerce_update_product"],
    "product.deleted": ["wp_trash_post"],
    "product.restored": ["untrashed_post"],
}

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PAYMENT_TITLES = {
    "bacs": "Direct bank transfer",
    "cheque": "Check payments",
    "cod": "Cash on delivery",
    "stripe": "Credit Card (Stripe)",
    "ppcp-gateway": "PayPal",
}
_GATEWAY_REFUNDS = frozenset({"stripe", "ppcp-gateway"})
_PAID_OR_REFUNDED = frozenset({"processing", "completed", "refunded"})
_COMPLETED_OR_REFUNDED = frozenset({"completed", "refunded"})


class ClockLike(Protocol):
    """Anything with ``now()`` returning an aware datetime (``loyalty_plugins.clock``)."""

    def now(self) -> datetime:
        """Current time, timezone-aware."""
        ...


class _SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class CouponNotUsableError(Exception):
    """Raised by :meth:`WooStore.redeem_coupon` with the message a shopper would see."""


@dataclass(frozen=True, slots=True)
class OrderQuery:
    """Filters and sort of ``GET /orders`` (dates are naive; GMT if ``dates_are_gmt``)."""

    statuses: tuple[str, ...] = ("any",)
    customer: int | None = None
    after: datetime | None = None
    before: datetime | None = None
    modified_after: datetime | None = None
    modified_before: datetime | None = None
    dates_are_gmt: bool = False
    include: tuple[int, ...] = ()
    exclude: tuple[int, ...] = ()
    parent: tuple[int, ...] = ()
    product: int | None = None
    search: str = ""
    orderby: str = "date"
    order: str = "desc"


@dataclass(slots=True)
class _Sequences:
    posts: int = 100
    users: int = 2
    order_items: int = 1
    order_itemmeta: int = 1
    postmeta: int = 1000
    usermeta: int = 1
    terms: int = 15
    webhooks: int = 1


def _meta_storage_value(value: Any) -> Any:
    """What WordPress gives back for a stored meta value (scalars become text)."""
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):  # pragma: no cover - JSON bodies are parsed with Decimal
        return repr(value)
    return value


def upsert_meta(
    metas: list[Meta], entries: Iterable[Mapping[str, Any]], next_id: Callable[[], int]
) -> None:
    """Apply ``meta_data`` entries like ``WC_Data::update_meta_data`` (+ save).

    An entry with a known ``id`` updates that row; otherwise the first row with the same
    ``key`` wins and other rows with that key are dropped; unknown keys are appended. A
    ``null`` value deletes.
    """
    for entry in entries:
        key = str(entry.get("key", ""))
        value = _meta_storage_value(entry.get("value"))
        meta_id = entry.get("id")
        target: Meta | None = None
        if meta_id:
            target = next((m for m in metas if m.id == meta_id), None)
        else:
            matches = [m for m in metas if m.key == key]
            if matches:
                target = matches[0]
                for extra in matches[1:]:
                    extra.value = None
        if target is None:
            if value is not None and key:
                metas.append(Meta(next_id(), key, value))
        else:
            target.key = key
            target.value = value
    metas[:] = [m for m in metas if m.value is not None]


class WooStore:
    """All data of one emulated shop, safe to use from several threads.

    Args:
        currency: ISO code put on every order.
        timezone: the site timezone used for the ``date_*`` (non-GMT) fields.
        clock: where "now" comes from for mutations (default: the wall clock).
        tax_rate: one standard rate applied to taxable lines and shipping (0 disables tax).
        tax_label: label of the tax line.
        flat_rate: shipping cost below ``free_shipping_threshold``.
        free_shipping_threshold: items subtotal from which shipping is free.
        rng_seed: seed for order keys and cart hashes of orders created at runtime.
    """

    def __init__(
        self,
        *,
        currency: str = "EUR",
        timezone: tzinfo = timezone(timedelta(hours=1)),
        clock: ClockLike | None = None,
        tax_rate: Decimal = Decimal("0.19"),
        tax_label: str = "VAT",
        flat_rate: Decimal = Decimal("4.90"),
        free_shipping_threshold: Decimal = Decimal("50.00"),
        rng_seed: int = 0,
    ) -> None:
        self.lock = threading.RLock()
        self.currency = currency
        self.timezone = timezone
        self.clock: ClockLike = clock or _SystemClock()
        self.tax_rate = tax_rate
        self.tax_label = tax_label
        self.flat_rate = flat_rate
        self.free_shipping_threshold = free_shipping_threshold
        self.wc_version = "9.4.2"
        self._rng = random.Random(rng_seed)
        self._seq = _Sequences()
        self._orders: dict[int, Order] = {}
        self._refunds: dict[int, Refund] = {}
        self._customers: dict[int, Customer] = {}
        self._products: dict[int, Product] = {}
        self._categories: dict[int, Category] = {}
        self._coupons: dict[int, Coupon] = {}
        self._webhooks: dict[int, Webhook] = {}
        self._coupon_codes: dict[str, int] = {}
        self._emails: dict[str, int] = {}
        self._listeners: list[Callable[[str, int], None]] = []
        self._version = 0
        # Sorted views of the orders per ``orderby``, with the ids changed since they were
        # built; small change sets are patched in, so polling while writing stays cheap.
        self._sorted_cache: dict[str, tuple[list[Order], set[int]]] = {}
        self.admin = Customer(
            id=1,
            date_created=self.stamp(datetime(2020, 1, 1, tzinfo=UTC)),
            date_modified=self.stamp(datetime(2020, 1, 1, tzinfo=UTC)),
            email="admin@shop.example.com",
            first_name="Shop",
            last_name="Admin",
            role="administrator",
            username="admin",
            billing=Address("", "", "", "", "", "", "", "", "", "", ""),
            shipping=Address("", "", "", "", "", "", "", "", ""),
            is_paying_customer=False,
            meta_data=[],
        )
        self._customers[1] = self.admin
        self._emails[self.admin.email] = 1

    # ------------------------------------------------------------------ basics
    def now(self) -> datetime:
        """The store clock's current time, aware UTC, whole seconds."""
        return self.clock.now().astimezone(UTC).replace(microsecond=0)

    def stamp(self, when: datetime | None = None) -> Stamp:
        """A :class:`Stamp` for ``when`` (default: now) in the site timezone."""
        return Stamp.of(when if when is not None else self.now(), self.timezone)

    def next_id(self, kind: str, gap: int = 1) -> int:
        """Take the next id of a sequence (``posts``, ``users``, ``order_items``, ...)."""
        with self.lock:
            value: int = getattr(self._seq, kind)
            setattr(self._seq, kind, value + max(1, gap))
            return value

    def subscribe(self, listener: Callable[[str, int], None]) -> None:
        """Call ``listener(topic, resource_id)`` after every mutation (keep it quick)."""
        with self.lock:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[str, int], None]) -> None:
        """Remove a listener added with :meth:`subscribe`."""
        with self.lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _emit(self, topic: str, resource_id: int) -> None:
        self._version += 1
        for listener in list(self._listeners):
            listener(topic, resource_id)

    def _meta_ids(self, kind: str) -> Callable[[], int]:
        return lambda: self.next_id(kind)

    @property
    def version(self) -> int:
        """Grows on every mutation; handy for caches and tests."""
        return self._version

    # ------------------------------------------------------------------ counts
    def counts(self) -> dict[str, int]:
        """How many records of each kind the store holds."""
        with self.lock:
            return {
                "orders": len(self._orders),
                "refunds": len(self._refunds),
                "customers": sum(1 for c in self._customers.values() if c.role == "customer"),
                "products": sum(1 for p in self._products.values() if not p.parent_id),
                "categories": len(self._categories),
                "coupons": len(self._coupons),
                "webhooks": len(self._webhooks),
            }

    # ------------------------------------------------------------------ catalogue
    def add_category(self, name: str, slug: str | None = None, parent: int = 0) -> Category:
        """Create a product category term."""
        with self.lock:
            cat = Category(
                id=self.next_id("terms"),
                name=name,
                slug=slug or re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"),
                parent=parent,
            )
            self._categories[cat.id] = cat
            return cat

    def add_product(
        self,
        name: str,
        price: Decimal,
        categories: Sequence[int],
        *,
        sku: str = "",
        virtual: bool = False,
        tax_status: str = "taxable",
        variations: Sequence[tuple[str, Decimal, str]] = (),
        attribute_name: str = "Size",
        at: datetime | None = None,
    ) -> Product:
        """Create a product; ``variations`` (option, price, sku) make it a variable one."""
        with self.lock:
            stamp = self.stamp(at)
            slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
            product = Product(
                id=self.next_id("posts"),
                name=name,
                slug=slug,
                type="variable" if variations else "simple",
                sku=sku,
                regular_price=money(price),
                date_created=stamp,
                date_modified=stamp,
                categories=tuple(categories),
                virtual=virtual,
                tax_status=tax_status,
            )
            self._products[product.id] = product
            if variations:
                product.attributes = [
                    {
                        "id": 0,
                        "name": attribute_name,
                        "position": 0,
                        "visible": True,
                        "variation": True,
                        "options": [v[0] for v in variations],
                    }
                ]
                for option, var_price, var_sku in variations:
                    var = Product(
                        id=self.next_id("posts"),
                        name=f"{name} - {option}",
                        slug=f"{slug}-{option.lower()}",
                        type="variation",
                        sku=var_sku,
                        regular_price=money(var_price),
                        date_created=stamp,
                        date_modified=stamp,
                        categories=tuple(categories),
                        virtual=virtual,
                        tax_status=tax_status,
                        parent_id=product.id,
                        attributes=[{"id": 0, "name": attribute_name, "option": option}],
                    )
                    self._products[var.id] = var
                    product.variations.append(var.id)
                product.regular_price = min(
                    self._products[v].regular_price for v in product.variations
                )
            for cat_id in categories:
                if cat_id in self._categories:
                    self._categories[cat_id].count += 1
            return product

    def get_product(self, product_id: int) -> Product | None:
        """A product or variation by id."""
        with self.lock:
            return self._products.get(product_id)

    def get_category(self, category_id: int) -> Category | None:
        """A category by id."""
        with self.lock:
            return self._categories.get(category_id)

    def products(self, *, include_variations: bool = False) -> list[Product]:
        """Products in id order (variations only when asked)."""
        with self.lock:
            return [p for p in self._products.values() if include_variations or not p.parent_id]

    def categories(self) -> list[Category]:
        """All categories in id order."""
        with self.lock:
            return list(self._categories.values())

    # ------------------------------------------------------------------ customers
    def create_customer(
        self,
        email: str,
        first_name: str = "",
        last_name: str = "",
        *,
        billing: Address | None = None,
        shipping: Address | None = None,
        username: str | None = None,
        meta: Mapping[str, Any] | None = None,
        at: datetime | None = None,
        fire: bool = True,
    ) -> Customer:
        """Register a customer; a second account with the same e-mail is refused."""
        with self.lock:
            email = email.strip().lower()
            if not _EMAIL_RE.match(email):
                raise WooRestError(
                    400, "registration-error-invalid-email", "Please provide a valid email address."
                )
            if email in self._emails:
                raise WooRestError(
                    400,
                    "registration-error-email-exists",
                    "An account is already registered with your email address. "
                    '<a href="#" class="showlogin">Please log in.</a>',
                )
            stamp = self.stamp(at)
            empty_billing = Address(first_name, last_name, "", "", "", "", "", "", "", email, "")
            customer = Customer(
                id=self.next_id("users"),
                date_created=stamp,
                date_modified=stamp,
                email=email,
                first_name=first_name,
                last_name=last_name,
                role="customer",
                username=username or email.split("@", 1)[0],
                billing=billing or empty_billing,
                shipping=shipping or _shipping_of(billing or empty_billing),
                is_paying_customer=False,
                meta_data=[],
            )
            if meta:
                upsert_meta(
                    customer.meta_data,
                    [{"key": k, "value": v} for k, v in meta.items()],
                    self._meta_ids("usermeta"),
                )
            self._customers[customer.id] = customer
            self._emails[email] = customer.id
            if fire:
                self._emit("customer.created", customer.id)
            return customer

    def get_customer(self, customer_id: int) -> Customer | None:
        """A user by id (the admin user 1 included)."""
        with self.lock:
            return self._customers.get(customer_id)

    def find_customer_by_email(self, email: str) -> Customer | None:
        """The registered user with this e-mail, if any."""
        email = email.strip().lower()
        with self.lock:
            customer_id = self._emails.get(email)
            return self._customers.get(customer_id) if customer_id else None

    def customers(self, role: str = "customer") -> list[Customer]:
        """Users with ``role`` (``"all"`` for everyone), in id order."""
        with self.lock:
            return [c for c in self._customers.values() if role == "all" or c.role == role]

    def update_customer(
        self, customer_id: int, patch: Mapping[str, Any], *, at: datetime | None = None
    ) -> Customer:
        """Apply a ``PUT /customers/<id>`` body; meta is merged by key like core."""
        with self.lock:
            customer = self._customers.get(customer_id)
            if customer is None:
                raise WooRestError(404, "woocommerce_rest_invalid_id", "Invalid resource ID.")
            for name in ("first_name", "last_name"):
                value = expect_str(patch, name)
                if value is not None:
                    setattr(customer, name, value)
            email = expect_str(patch, "email")
            if email is not None:
                email = email.strip().lower()
                if not _EMAIL_RE.match(email):
                    raise invalid_param("email", "Invalid email address.", "rest_invalid_email")
                other = self.find_customer_by_email(email)
                if other is not None and other.id != customer.id:
                    raise WooRestError(
                        400,
                        "woocommerce_rest_customer_invalid_email",
                        "Email address is invalid.",
                    )
                self._emails.pop(customer.email, None)
                self._emails[email] = customer.id
                customer.email = email
            for name in ("billing", "shipping"):
                if isinstance(patch.get(name), Mapping):
                    current: Address = getattr(customer, name)
                    fields = {
                        k: str(v)
                        for k, v in patch[name].items()
                        if k in Address.__dataclass_fields__ and v is not None
                    }
                    setattr(customer, name, replace(current, **fields))
            if isinstance(patch.get("meta_data"), list):
                upsert_meta(
                    customer.meta_data,
                    [m for m in patch["meta_data"] if isinstance(m, Mapping)],
                    self._meta_ids("usermeta"),
                )
            customer.date_modified = self.stamp(at)
            self._emit("customer.updated", customer.id)
            return customer

    def set_customer_meta(
        self, customer_id: int, key: str, value: Any, *, at: datetime | None = None
    ) -> Customer:
        """Upsert one meta key of a customer (``None`` deletes it)."""
        return self.update_customer(
            customer_id, {"meta_data": [{"key": key, "value": value}]}, at=at
        )

    def delete_customer(self, customer_id: int) -> Customer:
        """Delete a customer for good (customers cannot be trashed)."""
        with self.lock:
            customer = self._customers.get(customer_id)
            if customer is None or customer.role != "customer":
                raise WooRestError(404, "woocommerce_rest_invalid_id", "Invalid resource ID.")
            del self._customers[customer_id]
            self._emails.pop(customer.email, None)
            self._emit("customer.deleted", customer_id)
            return customer

    # ------------------------------------------------------------------ orders
    def get_order(self, order_id: int) -> Order | None:
        """An order by id."""
        with self.lock:
            return self._orders.get(order_id)

    def orders(self) -> list[Order]:
        """All orders in id order (a copy of the list, not of the orders)."""
        with self.lock:
            return list(self._orders.values())

    def _line_taxes(self, amount: Decimal, taxable: bool) -> tuple[TaxShare, ...]:
        if not taxable or self.tax_rate == 0:
            return ()
        raw = (amount * self.tax_rate).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
        return (TaxShare(1, raw, raw),)

    def _make_line(self, product: Product, quantity: int, discount: Decimal) -> LineItem:
        parent = self._products.get(product.parent_id) if product.parent_id else None
        subtotal = money(product.regular_price * quantity)
        total = money(subtotal - discount)
        taxable = product.tax_status == "taxable"
        taxes = self._line_taxes(subtotal, taxable)
        if discount and taxes:
            taxes = tuple(
                TaxShare(s.rate_id, t.total, s.subtotal)
                for s, t in zip(taxes, self._line_taxes(total, taxable), strict=True)
            )
        meta: list[Meta] = []
        if parent is not None:
            for attr in product.attributes:
                meta.append(
                    Meta(
                        self.next_id("order_itemmeta"),
                        f"pa_{attr['name'].lower()}",
                        str(attr["option"]).lower(),
                    )
                )
        return LineItem(
            id=self.next_id("order_items"),
            name=product.name,
            product_id=parent.id if parent else product.id,
            variation_id=product.id if parent else 0,
            quantity=quantity,
            tax_class="",
            subtotal=subtotal,
            subtotal_tax=money(taxes[0].subtotal) if taxes else ZERO,
            total=total,
            total_tax=money(taxes[0].total) if taxes else ZERO,
            taxes=taxes,
            meta_data=meta,
            sku=product.sku,
        )

    def _coupon_discounts(
        self, coupon: Coupon, lines: Sequence[tuple[Product, int]]
    ) -> list[Decimal]:
        subtotals = [money(p.regular_price * q) for p, q in lines]
        if coupon.discount_type == "percent":
            pct = min(coupon.amount, Decimal(100)) / 100
            return [money(s * pct) for s in subtotals]
        if coupon.discount_type == "fixed_product":
            return [
                min(s, money(coupon.amount * q)) for s, (_, q) in zip(subtotals, lines, strict=True)
            ]
        cart = sum(subtotals, ZERO)
        if cart <= 0:
            return [ZERO for _ in subtotals]
        budget = min(coupon.amount, cart)
        shares = [money(budget * s / cart) for s in subtotals]
        shares[-1] = money(budget - sum(shares[:-1], ZERO))
        return shares

    def create_order(
        self,
        items: Sequence[tuple[int, int]],
        *,
        customer_id: int = 0,
        billing: Address | None = None,
        shipping_address: Address | None = None,
        status: str = "pending",
        coupon_code: str | None = None,
        shipping: tuple[str, str, Decimal] | None = None,
        payment_method: str = "bacs",
        transaction_id: str = "",
        customer_note: str = "",
        meta: Mapping[str, Any] | None = None,
        created_via: str = "checkout",
        customer_ip_address: str = "",
        customer_user_agent: str = "",
        created_at: datetime | None = None,
        paid_at: datetime | None = None,
        completed_at: datetime | None = None,
        modified_at: datetime | None = None,
        fire: bool = True,
    ) -> Order:
        """Place an order for ``items`` (product or variation id, quantity).

        Shipping defaults to flat rate, or free shipping from the threshold; tax follows
        :attr:`tax_rate`. Registered customers' addresses are used when none is given.
        ``paid_at``/``completed_at`` default to ``created_at`` for paid/completed statuses.
        A coupon raises its usage like a checkout would.
        """
        with self.lock:
            if status not in ORDER_STATUSES:
                raise invalid_param(
                    "status",
                    f"status is not one of {wp_list(ORDER_STATUSES)}.",
                    "rest_not_in_enum",
                )
            if not items:
                raise WooRestError(
                    400,
                    "woocommerce_rest_required_product_reference",
                    "Product ID or SKU is required.",
                )
            customer = self._customers.get(customer_id) if customer_id else None
            if customer_id and customer is None:
                raise WooRestError(
                    400, "woocommerce_rest_invalid_customer_id", "Customer ID is invalid."
                )
            if billing is None:
                if customer is None:
                    raise WooRestError(
                        400,
                        "woocommerce_rest_invalid_billing",
                        "A billing e-mail is required for guest orders.",
                    )
                billing = customer.billing
            ship_to = shipping_address or (customer.shipping if customer else None)
            if ship_to is None:
                ship_to = _shipping_of(billing)
            resolved: list[tuple[Product, int]] = []
            for product_id, quantity in items:
                product = self._products.get(product_id)
                if product is None or product.type == "variable":
                    raise WooRestError(
                        400,
                        "woocommerce_rest_invalid_product_id",
                        f"Product ID {product_id} is invalid.",
                    )
                resolved.append((product, max(1, int(quantity))))
            coupon: Coupon | None = None
            discounts = [ZERO] * len(resolved)
            if coupon_code:
                coupon = self.find_coupon(coupon_code)
                if coupon is None:
                    raise WooRestError(
                        400,
                        "woocommerce_rest_invalid_coupon",
                        f'Coupon "{coupon_code.lower()}" does not exist!',
                    )
                discounts = self._coupon_discounts(coupon, resolved)
            created = created_at or self.now()
            order_id = self.next_id("posts")
            lines = [
                self._make_line(p, q, d) for (p, q), d in zip(resolved, discounts, strict=True)
            ]
            shipping_lines: list[ShippingLine] = []
            needs_shipping = any(not p.virtual for p, _ in resolved)
            if shipping is not None or needs_shipping:
                if shipping is None:
                    items_subtotal = sum((li.subtotal for li in lines), ZERO)
                    if items_subtotal >= self.free_shipping_threshold:
                        shipping = ("free_shipping", "Free shipping", ZERO)
                    else:
                        shipping = ("flat_rate", "Flat rate", self.flat_rate)
                method_id, title, cost = shipping
                ship_taxes = self._line_taxes(money(cost), True)
                shipping_lines.append(
                    ShippingLine(
                        id=self.next_id("order_items"),
                        method_title=title,
                        method_id=method_id,
                        total=money(cost),
                        total_tax=money(sum((t.total for t in ship_taxes), ZERO)),
                        taxes=ship_taxes,
                    )
                )
            coupon_lines: list[CouponLine] = []
            if coupon is not None:
                coupon_lines.append(
                    CouponLine(
                        id=self.next_id("order_items"),
                        code=coupon.code,
                        discount=money(sum((li.subtotal - li.total for li in lines), ZERO)),
                        discount_tax=money(
                            sum((li.subtotal_tax - li.total_tax for li in lines), ZERO)
                        ),
                    )
                )
            tax_lines: list[TaxLine] = []
            cart_tax = money(sum((li.total_tax for li in lines), ZERO))
            ship_tax = money(sum((s.total_tax for s in shipping_lines), ZERO))
            if self.tax_rate and (cart_tax or ship_tax):
                tax_lines.append(
                    TaxLine(
                        id=self.next_id("order_items"),
                        rate_code=f"{self.tax_label.upper()}-1",
                        rate_id=1,
                        label=self.tax_label,
                        compound=False,
                        tax_total=cart_tax,
                        shipping_tax_total=ship_tax,
                    )
                )
            created_stamp = self.stamp(created)
            paid = paid_at or (created if status in _PAID_OR_REFUNDED else None)
            completed = completed_at or (created if status in _COMPLETED_OR_REFUNDED else None)
            last = created
            for moment in (paid, completed, modified_at):
                if moment is not None and moment > last:
                    last = moment
            order = Order(
                id=order_id,
                parent_id=0,
                order_key="wc_order_" + _base62(self._rng.getrandbits(78), 13),
                created_via=created_via,
                version=self.wc_version,
                status=status,
                currency=self.currency,
                date_created=created_stamp,
                date_modified=created_stamp if last == created else self.stamp(last),
                prices_include_tax=False,
                customer_id=customer_id,
                customer_ip_address=customer_ip_address,
                customer_user_agent=customer_user_agent,
                customer_note=customer_note,
                billing=billing,
                shipping=ship_to if needs_shipping else _empty_shipping(),
                payment_method=payment_method,
                payment_method_title=_PAYMENT_TITLES.get(payment_method, payment_method),
                transaction_id=transaction_id,
                date_paid=self.stamp(paid) if paid else None,
                date_completed=self.stamp(completed) if completed else None,
                cart_hash=f"{self._rng.getrandbits(128):032x}",
                meta_data=[],
                line_items=lines,
                tax_lines=tax_lines,
                shipping_lines=shipping_lines,
                fee_lines=[],
                coupon_lines=coupon_lines,
                refunds=[],
            )
            order.recalculate_totals()
            for key, value in (meta or {}).items():
                stored = _meta_storage_value(value)
                if stored is not None:
                    order.meta_data.append(Meta(self.next_id("postmeta"), key, stored))
            self._orders[order.id] = order
            self._mark_dirty(order.id)
            for product, quantity in resolved:
                target = self._products.get(product.parent_id) if product.parent_id else product
                if target is not None:
                    target.total_sales += quantity
            if customer is not None and paid is not None:
                customer.is_paying_customer = True
            if coupon is not None and status not in {"failed", "cancelled", "pending"}:
                self._record_coupon_use(coupon, customer_id, billing.email)
            if fire:
                self._emit("order.created", order.id)
            else:
                self._version += 1
            return order

    def _require_order(self, order_id: int) -> Order:
        order = self._orders.get(order_id)
        if order is None:
            raise WooRestError(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        return order

    def set_order_status(
        self, order_id: int, status: str, *, at: datetime | None = None, fire: bool = True
    ) -> Order:
        """Change an order's status (sets ``date_paid``/``date_completed`` like core)."""
        with self.lock:
            order = self._require_order(order_id)
            if status not in ORDER_STATUSES and status != "trash":
                raise invalid_param(
                    "status",
                    f"status is not one of {wp_list(ORDER_STATUSES)}.",
                    "rest_not_in_enum",
                )
            when = at or self.now()
            order.status = status
            if status in PAID_STATUSES and order.date_paid is None:
                order.date_paid = self.stamp(when)
            if status == "completed" and order.date_completed is None:
                order.date_completed = self.stamp(when)
            if status in PAID_STATUSES and order.customer_id in self._customers:
                self._customers[order.customer_id].is_paying_customer = True
            order.date_modified = self.stamp(when)
            self._mark_dirty(order.id)
            if fire:
                self._emit("order.updated", order.id)
            return order

    def touch_order(self, order_id: int, *, at: datetime | None = None) -> Order:
        """Bump ``date_modified`` without other changes (an admin saving the order)."""
        with self.lock:
            order = self._require_order(order_id)
            order.date_modified = self.stamp(at)
            self._mark_dirty(order.id)
            self._emit("order.updated", order.id)
            return order

    def update_order(
        self, order_id: int, patch: Mapping[str, Any], *, at: datetime | None = None
    ) -> Order:
        """Apply a ``PUT /orders/<id>`` body (status, set_paid, note, addresses, meta)."""
        with self.lock:
            order = self._require_order(order_id)
            when = at or self.now()
            status = expect_str(patch, "status")
            if status is not None:
                if status not in ORDER_STATUSES:
                    raise invalid_param(
                        "status",
                        f"status is not one of {wp_list(ORDER_STATUSES)}.",
                        "rest_not_in_enum",
                    )
                self.set_order_status(order_id, status, at=when, fire=False)
            if expect_bool(patch, "set_paid"):
                if order.date_paid is None:
                    order.date_paid = self.stamp(when)
                if order.status in {"pending", "on-hold", "failed"}:
                    order.status = "processing"
            note = expect_str(patch, "customer_note")
            if note is not None:
                order.customer_note = note
            txn = expect_str(patch, "transaction_id")
            if txn is not None:
                order.transaction_id = txn
            for name in ("billing", "shipping"):
                if isinstance(patch.get(name), Mapping):
                    current: Address = getattr(order, name)
                    fields = {
                        k: str(v)
                        for k, v in patch[name].items()
                        if k in Address.__dataclass_fields__ and v is not None
                    }
                    setattr(order, name, replace(current, **fields))
            if isinstance(patch.get("meta_data"), list):
                upsert_meta(
                    order.meta_data,
                    [m for m in patch["meta_data"] if isinstance(m, Mapping)],
                    self._meta_ids("postmeta"),
                )
            order.date_modified = self.stamp(when)
            self._mark_dirty(order.id)
            self._emit("order.updated", order.id)
            return order

    def set_order_meta(
        self, order_id: int, key: str, value: Any, *, at: datetime | None = None
    ) -> Order:
        """Upsert one meta key of an order (``None`` deletes it)."""
        return self.update_order(order_id, {"meta_data": [{"key": key, "value": value}]}, at=at)

    def delete_order(self, order_id: int, *, force: bool = False) -> Order:
        """Trash an order, or delete it (and its refunds) for good with ``force``."""
        with self.lock:
            order = self._require_order(order_id)
            self._mark_dirty(order_id)
            if force:
                del self._orders[order_id]
                for refund in order.refunds:
                    self._refunds.pop(refund.id, None)
            else:
                if order.status == "trash":
                    raise WooRestError(
                        410,
                        "woocommerce_rest_already_trashed",
                        "The shop_order has already been deleted.",
                    )
                order.status = "trash"
                order.date_modified = self.stamp()
            self._emit("order.deleted", order_id)
            return order

    # ------------------------------------------------------------------ refunds
    def refunded_quantities(self, order: Order) -> dict[int, int]:
        """Quantity already refunded per original line item id."""
        done: dict[int, int] = {}
        for refund in order.refunds:
            for item in refund.line_items:
                for meta in item.meta_data:
                    if meta.key == "_refunded_item_id":
                        original = int(meta.value)
                        done[original] = done.get(original, 0) + abs(item.quantity)
        return done

    def refund_order(
        self,
        order_id: int,
        *,
        amount: Decimal | str | None = None,
        reason: str = "",
        line_items: Mapping[int, int] | None = None,
        refund_shipping: bool = False,
        api_refund: bool = True,
        refunded_by: int = 1,
        at: datetime | None = None,
        fire: bool = True,
    ) -> Refund:
        """Refund an order.

        With ``line_items`` ({original item id: quantity}) the refund carries negative item
        lines and, unless ``amount`` is given, their value with tax. With neither, the whole
        remaining amount and every remaining item is refunded (a full refund). A refund
        that completes the order total sets the status to ``refunded``.
        """
        with self.lock:
            order = self._require_order(order_id)
            remaining = money(order.total - order.refunded_total)
            items = dict(line_items or {})
            full = amount is None and not items
            done = self.refunded_quantities(order)
            if full:
                items = {
                    li.id: li.quantity - done.get(li.id, 0)
                    for li in order.line_items
                    if li.quantity - done.get(li.id, 0) > 0
                }
            refund_lines: list[LineItem] = []
            value = ZERO
            by_id = {li.id: li for li in order.line_items}
            for item_id, qty in items.items():
                original = by_id.get(item_id)
                if original is None or qty <= 0:
                    raise WooRestError(
                        400,
                        "woocommerce_rest_invalid_order_refund",
                        f"Invalid order item ID {item_id}.",
                    )
                qty = min(qty, original.quantity - done.get(item_id, 0))
                if qty <= 0:
                    continue
                share = Decimal(qty) / Decimal(original.quantity)
                taxes = tuple(
                    TaxShare(
                        t.rate_id,
                        -(t.total * share).quantize(Decimal("0.0001")),
                        -(t.subtotal * share).quantize(Decimal("0.0001")),
                    )
                    for t in original.taxes
                )
                line = LineItem(
                    id=self.next_id("order_items"),
                    name=original.name,
                    product_id=original.product_id,
                    variation_id=original.variation_id,
                    quantity=-qty,
                    tax_class=original.tax_class,
                    subtotal=money(-original.subtotal * share),
                    subtotal_tax=money(-original.subtotal_tax * share),
                    total=money(-original.total * share),
                    total_tax=money(-original.total_tax * share),
                    taxes=taxes,
                    meta_data=[
                        Meta(self.next_id("order_itemmeta"), "_refunded_item_id", str(item_id))
                    ],
                    sku=original.sku,
                )
                refund_lines.append(line)
                value += -(line.total + line.total_tax)
            if refund_shipping:
                value += order.shipping_total + order.shipping_tax - self._shipping_refunded(order)
            if full:
                refund_amount = remaining
            elif amount is not None:
                refund_amount = money(to_decimal(amount, "amount"))
            else:
                refund_amount = money(value)
            if refund_amount <= 0:
                raise WooRestError(
                    400,
                    "woocommerce_rest_invalid_order_refund",
                    "Refund amount must be greater than zero.",
                )
            if refund_amount > remaining:
                raise WooRestError(
                    500, "woocommerce_rest_cannot_create_order_refund", "Invalid refund amount."
                )
            when = at or self.now()
            refund = Refund(
                id=self.next_id("posts"),
                order_id=order.id,
                date_created=self.stamp(when),
                amount=refund_amount,
                reason=reason,
                refunded_by=refunded_by,
                refunded_payment=api_refund and order.payment_method in _GATEWAY_REFUNDS,
                meta_data=[],
                line_items=refund_lines,
            )
            if refund_shipping:
                refund.meta_data.append(
                    Meta(
                        self.next_id("postmeta"),
                        "_refunded_shipping",
                        str(order.shipping_total + order.shipping_tax),
                    )
                )
            order.refunds.insert(0, refund)
            self._refunds[refund.id] = refund
            if order.refunded_total >= order.total:
                order.status = "refunded"
            order.date_modified = self.stamp(when)
            self._mark_dirty(order.id)
            if fire:
                self._emit("order.updated", order.id)
            else:
                self._version += 1
            return refund

    @staticmethod
    def _shipping_refunded(order: Order) -> Decimal:
        total = ZERO
        for refund in order.refunds:
            for meta in refund.meta_data:
                if meta.key == "_refunded_shipping":
                    total += Decimal(str(meta.value))
        return total

    def get_refund(self, refund_id: int) -> Refund | None:
        """A refund by id."""
        with self.lock:
            return self._refunds.get(refund_id)

    def refunds(self) -> list[Refund]:
        """All refunds in id order."""
        with self.lock:
            return sorted(self._refunds.values(), key=lambda r: r.id)

    # ------------------------------------------------------------------ order queries
    def _mark_dirty(self, order_id: int) -> None:
        for _, pending in self._sorted_cache.values():
            pending.add(order_id)

    @staticmethod
    def _sort_key(orderby: str) -> Callable[[Order], Any]:
        if orderby == "id":
            return lambda o: o.id
        if orderby == "modified":
            return lambda o: (o.date_modified.local, o.id)
        return lambda o: (o.date_created.local, o.id)  # date/title/slug: post_date, then ID

    def _sorted_orders(self, orderby: str) -> list[Order]:
        key = self._sort_key(orderby)
        cached = self._sorted_cache.get(orderby)
        if cached is not None:
            orders, pending = cached
            if not pending:
                return orders
            if len(pending) <= 2000:
                orders = [o for o in orders if o.id not in pending]
                for order_id in sorted(pending):
                    order = self._orders.get(order_id)
                    if order is not None:
                        insort(orders, order, key=key)
                self._sorted_cache[orderby] = (orders, set())
                return orders
        orders = sorted(self._orders.values(), key=key)
        self._sorted_cache[orderby] = (orders, set())
        return orders

    def query_orders(self, query: OrderQuery) -> list[Order]:
        """Orders matching ``query`` in the requested order (hold :attr:`lock` to render)."""
        with self.lock:
            if query.orderby == "include" and query.include:
                base = [self._orders[i] for i in query.include if i in self._orders]
                ordered: Iterable[Order] = base
            else:
                base = self._sorted_orders(query.orderby)
                ordered = reversed(base) if query.order == "desc" else base
            return _filter_orders(list(ordered), query)

    # ------------------------------------------------------------------ coupons
    def find_coupon(self, code: str) -> Coupon | None:
        """A non-trashed coupon by (case-insensitive) code."""
        with self.lock:
            coupon_id = self._coupon_codes.get(code.strip().lower())
            return self._coupons.get(coupon_id) if coupon_id else None

    def get_coupon(self, coupon_id: int) -> Coupon | None:
        """A coupon by id (trashed ones included)."""
        with self.lock:
            return self._coupons.get(coupon_id)

    def coupons(self, *, include_trash: bool = False) -> list[Coupon]:
        """Coupons in id order."""
        with self.lock:
            return [c for c in self._coupons.values() if include_trash or c.status != "trash"]

    def create_coupon(
        self, data: Mapping[str, Any], *, at: datetime | None = None, fire: bool = True
    ) -> Coupon:
        """Create a coupon from a ``POST /coupons`` body."""
        with self.lock:
            if "code" not in data:
                raise WooRestError(
                    400,
                    "rest_missing_callback_param",
                    "Missing parameter(s): code",
                    {"params": ["code"]},
                )
            stamp = self.stamp(at)
            coupon = Coupon(id=0, code="", amount=ZERO, date_created=stamp, date_modified=stamp)
            self._apply_coupon_fields(coupon, data)
            coupon.id = self.next_id("posts")
            self._coupons[coupon.id] = coupon
            self._coupon_codes[coupon.code] = coupon.id
            if fire:
                self._emit("coupon.created", coupon.id)
            return coupon

    def update_coupon(
        self, coupon_id: int, data: Mapping[str, Any], *, at: datetime | None = None
    ) -> Coupon:
        """Apply a ``PUT /coupons/<id>`` body."""
        with self.lock:
            coupon = self._coupons.get(coupon_id)
            if coupon is None:
                raise WooRestError(404, "woocommerce_rest_shop_coupon_invalid_id", "Invalid ID.")
            old_code = coupon.code
            self._apply_coupon_fields(coupon, data)
            if coupon.code != old_code:
                self._coupon_codes.pop(old_code, None)
                self._coupon_codes[coupon.code] = coupon.id
            coupon.date_modified = self.stamp(at)
            self._emit("coupon.updated", coupon.id)
            return coupon

    def delete_coupon(self, coupon_id: int, *, force: bool = False) -> Coupon:
        """Trash a coupon, or delete it for good with ``force``."""
        with self.lock:
            coupon = self._coupons.get(coupon_id)
            if coupon is None:
                raise WooRestError(404, "woocommerce_rest_shop_coupon_invalid_id", "Invalid ID.")
            if force:
                del self._coupons[coupon_id]
            elif coupon.status == "trash":
                raise WooRestError(
                    410,
                    "woocommerce_rest_already_trashed",
                    "The shop_coupon has already been deleted.",
                )
            else:
                coupon.status = "trash"
                coupon.date_modified = self.stamp()
            if self._coupon_codes.get(coupon.code) == coupon_id:
                del self._coupon_codes[coupon.code]
            self._emit("coupon.deleted", coupon_id)
            return coupon

    def _apply_coupon_fields(self, coupon: Coupon, data: Mapping[str, Any]) -> None:
        code = expect_str(data, "code")
        if code is not None:
            code = code.strip().lower()
            if not code:
                raise WooRestError(
                    400, "woocommerce_rest_empty_coupon_code", "The coupon code cannot be empty."
                )
            owner = self._coupon_codes.get(code)
            if owner is not None and owner != coupon.id:
                raise WooRestError(
                    400,
                    "woocommerce_rest_coupon_code_already_exists",
                    "The coupon code already exists",
                )
            coupon.code = code
        amount = expect_str(data, "amount")
        if amount is not None:
            coupon.amount = money(to_decimal(amount, "amount"))
        discount_type = expect_str(data, "discount_type")
        if discount_type is not None:
            allowed = ("percent", "fixed_cart", "fixed_product")
            if discount_type not in allowed:
                raise invalid_param(
                    "discount_type",
                    f"discount_type is not one of {wp_list(allowed)}.",
                    "rest_not_in_enum",
                )
            coupon.discount_type = discount_type
        description = expect_str(data, "description")
        if description is not None:
            coupon.description = description
        for name in ("individual_use", "free_shipping", "exclude_sale_items"):
            flag = expect_bool(data, name)
            if flag is not None:
                setattr(coupon, name, flag)
        for name in ("usage_limit", "usage_limit_per_user", "limit_usage_to_x_items"):
            if name in data:
                setattr(coupon, name, expect_int(data, name))
        for name in (
            "product_ids",
            "excluded_product_ids",
            "product_categories",
            "excluded_product_categories",
        ):
            ids = expect_int_list(data, name)
            if ids is not None:
                setattr(coupon, name, ids)
        for name in ("minimum_amount", "maximum_amount"):
            value = expect_str(data, name)
            if value is not None:
                setattr(coupon, name, money(to_decimal(value, name)))
        for name in ("date_expires", "date_expires_gmt"):
            if name in data:
                raw = data[name]
                if raw in (None, ""):
                    coupon.date_expires = None
                elif isinstance(raw, str):
                    parsed = parse_wp_date(raw)
                    if parsed is None:
                        raise invalid_param(name, "Invalid date.", "rest_invalid_date")
                    if parsed.tzinfo is None:
                        tz = UTC if name.endswith("_gmt") else self.timezone
                        parsed = parsed.replace(tzinfo=tz)
                    coupon.date_expires = self.stamp(parsed)
                else:
                    raise invalid_param(name, f"{name} is not of type string.")
        if "email_restrictions" in data:
            emails = data["email_restrictions"]
            if not isinstance(emails, list):
                raise invalid_param(
                    "email_restrictions", "email_restrictions is not of type array."
                )
            cleaned: list[str] = []
            for email in emails:
                text = str(email).strip().lower()
                if not _EMAIL_RE.match(text) and not text.startswith("*@"):
                    raise WooRestError(
                        400, "coupon_invalid_email_address", "Invalid email address restriction"
                    )
                cleaned.append(text)
            coupon.email_restrictions = cleaned
        if isinstance(data.get("meta_data"), list):
            upsert_meta(
                coupon.meta_data,
                [m for m in data["meta_data"] if isinstance(m, Mapping)],
                self._meta_ids("postmeta"),
            )

    def _record_coupon_use(self, coupon: Coupon, customer_id: int, email: str) -> None:
        coupon.usage_count += 1
        coupon.used_by.append(str(customer_id) if customer_id else email.lower())

    def redeem_coupon(self, code: str, email: str, *, customer_id: int | None = None) -> Coupon:
        """A shopper uses coupon ``code``: usage checks as at checkout, then count it.

        ``used_by`` gets the user id (as a string) when the e-mail belongs to a registered
        customer, else the e-mail. ``date_modified`` is left alone, as in core.

        Raises:
            CouponNotUsableError: unknown/expired coupon, limit reached, e-mail not allowed.
        """
        with self.lock:
            coupon = self.find_coupon(code)
            if coupon is None:
                raise CouponNotUsableError(f'Coupon "{code.lower()}" does not exist!')
            email = email.strip().lower()
            if customer_id is None:
                customer = self.find_customer_by_email(email)
                customer_id = customer.id if customer else 0
            if coupon.date_expires is not None and coupon.date_expires.aware <= self.now():
                raise CouponNotUsableError("This coupon has expired.")
            if coupon.usage_limit is not None and coupon.usage_count >= coupon.usage_limit:
                raise CouponNotUsableError("Coupon usage limit has been reached.")
            if coupon.email_restrictions and not any(
                r == email or (r.startswith("*@") and email.endswith(r[1:]))
                for r in coupon.email_restrictions
            ):
                raise CouponNotUsableError(
                    "Sorry, it seems the coupon is not yours - it has now been removed from "
                    "your order."
                )
            if coupon.usage_limit_per_user is not None:
                ident = {str(customer_id), email} if customer_id else {email}
                used = sum(1 for u in coupon.used_by if u in ident)
                if used >= coupon.usage_limit_per_user:
                    raise CouponNotUsableError(
                        "Coupon usage limit has been reached. If you were using this coupon "
                        "just now but order was not complete, you can retry or cancel the "
                        "order by going to the my account page."
                    )
            self._record_coupon_use(coupon, customer_id, email)
            self._version += 1
            return coupon

    # ------------------------------------------------------------------ webhooks
    def webhooks(self) -> list[Webhook]:
        """Webhooks in id order."""
        with self.lock:
            return list(self._webhooks.values())

    def get_webhook(self, webhook_id: int) -> Webhook | None:
        """A webhook by id."""
        with self.lock:
            return self._webhooks.get(webhook_id)

    def create_webhook(self, data: Mapping[str, Any], *, at: datetime | None = None) -> Webhook:
        """Create a webhook from a ``POST /webhooks`` body."""
        with self.lock:
            topic = expect_str(data, "topic") or ""
            if not _valid_topic(topic):
                raise WooRestError(
                    400,
                    "woocommerce_rest_webhook_invalid_topic",
                    "Webhook topic is required and must be valid.",
                )
            url = expect_str(data, "delivery_url") or ""
            if not re.match(r"^https?://[^\s/]+", url):
                raise WooRestError(
                    400,
                    "woocommerce_rest_webhook_invalid_delivery_url",
                    "Webhook delivery URL must be a valid URL starting with http:// or https://.",
                )
            stamp = self.stamp(at)
            status = expect_str(data, "status") or "active"
            if status not in ("active", "paused", "disabled"):
                raise invalid_param(
                    "status",
                    "status is not one of active, paused, and disabled.",
                    "rest_not_in_enum",
                )
            secret = expect_str(data, "secret")
            webhook = Webhook(
                id=self.next_id("webhooks"),
                name=expect_str(data, "name")
                or f"Webhook created on {stamp.local:%b %d, %Y @ %I:%M %p}",
                status=status,
                topic=topic,
                delivery_url=url,
                secret=secret
                if secret
                else hashlib.md5(b"1|admin", usedforsecurity=False).hexdigest(),
                date_created=stamp,
                date_modified=stamp,
            )
            self._webhooks[webhook.id] = webhook
            self._version += 1
            return webhook

    def update_webhook(
        self, webhook_id: int, data: Mapping[str, Any], *, at: datetime | None = None
    ) -> Webhook:
        """Apply a ``PUT /webhooks/<id>`` body (re-enabling resets the failure count)."""
        with self.lock:
            webhook = self._webhooks.get(webhook_id)
            if webhook is None:
                raise WooRestError(404, "woocommerce_rest_shop_webhook_invalid_id", "Invalid ID.")
            for name in ("name", "delivery_url", "secret"):
                value = expect_str(data, name)
                if value is not None:
                    setattr(webhook, name, value)
            topic = expect_str(data, "topic")
            if topic is not None:
                if not _valid_topic(topic):
                    raise WooRestError(
                        400,
                        "woocommerce_rest_webhook_invalid_topic",
                        "Webhook topic must be valid.",
                    )
                webhook.topic = topic
            status = expect_str(data, "status")
            if status is not None:
                if status not in ("active", "paused", "disabled"):
                    raise invalid_param(
                        "status",
                        "status is not one of active, paused, and disabled.",
                        "rest_not_in_enum",
                    )
                if status == "active":
                    webhook.failure_count = 0
                webhook.status = status
            webhook.date_modified = self.stamp(at)
            self._version += 1
            return webhook

    def delete_webhook(self, webhook_id: int) -> Webhook:
        """Delete a webhook (they cannot be trashed)."""
        with self.lock:
            webhook = self._webhooks.pop(webhook_id, None)
            if webhook is None:
                raise WooRestError(404, "woocommerce_rest_shop_webhook_invalid_id", "Invalid ID.")
            self._version += 1
            return webhook

    def record_webhook_result(self, webhook_id: int, success: bool, max_failures: int = 5) -> None:
        """Track delivery failures; disable after more than ``max_failures`` in a row."""
        with self.lock:
            webhook = self._webhooks.get(webhook_id)
            if webhook is None:
                return
            if success:
                webhook.failure_count = 0
                return
            webhook.failure_count += 1
            if webhook.failure_count > max_failures:
                webhook.status = "disabled"

    # ------------------------------------------------------------------ iteration helpers
    def iter_orders_for_customer(self, customer_id: int) -> Iterator[Order]:
        """Orders of one registered customer, oldest first."""
        with self.lock:
            snapshot = [o for o in self._orders.values() if o.customer_id == customer_id]
        yield from snapshot


_BASE62 = string.digits + string.ascii_letters


def _base62(number: int, length: int) -> str:
    chars = []
    for _ in range(length):
        number, digit = divmod(number, 62)
        chars.append(_BASE62[digit])
    return "".join(chars)


def _valid_topic(topic: str) -> bool:
    if topic.startswith("action.") and len(topic) > len("action."):
        return True
    return topic in WEBHOOK_TOPIC_HOOKS


def _shipping_of(billing: Address) -> Address:
    return Address(
        billing.first_name,
        billing.last_name,
        billing.company,
        billing.address_1,
        billing.address_2,
        billing.city,
        billing.state,
        billing.postcode,
        billing.country,
    )


def _empty_shipping() -> Address:
    return Address("", "", "", "", "", "", "", "", "")


def _filter_orders(items: list[Order], q: OrderQuery) -> list[Order]:
    """Apply the active filters one pass each (cheap with 50k orders and few filters)."""
    if "any" in q.statuses:
        if "trash" not in q.statuses:
            items = [o for o in items if o.status != "trash"]
    else:
        allowed = frozenset(q.statuses)
        items = [o for o in items if o.status in allowed]
    if q.customer is not None:
        items = [o for o in items if o.customer_id == q.customer]
    if q.include:
        included = frozenset(q.include)
        items = [o for o in items if o.id in included]
    if q.exclude:
        excluded = frozenset(q.exclude)
        items = [o for o in items if o.id not in excluded]
    if q.parent:
        parents = frozenset(q.parent)
        items = [o for o in items if o.parent_id in parents]
    gmt = q.dates_are_gmt
    if q.after is not None:
        after = q.after
        items = [o for o in items if (o.date_created.gmt if gmt else o.date_created.local) > after]
    if q.before is not None:
        before = q.before
        items = [o for o in items if (o.date_created.gmt if gmt else o.date_created.local) < before]
    if q.modified_after is not None:
        m_after = q.modified_after
        items = [
            o for o in items if (o.date_modified.gmt if gmt else o.date_modified.local) > m_after
        ]
    if q.modified_before is not None:
        m_before = q.modified_before
        items = [
            o for o in items if (o.date_modified.gmt if gmt else o.date_modified.local) < m_before
        ]
    if q.product is not None:
        product = q.product
        items = [
            o
            for o in items
            if any(li.product_id == product or li.variation_id == product for li in o.line_items)
        ]
    if q.search:
        needle = q.search.lower()
        items = [
            o
            for o in items
            if needle == str(o.id)
            or needle in f"{o.billing.email} {o.billing.first_name} {o.billing.last_name}".lower()
        ]
    return items
