"""Pure mapping between WooCommerce REST (``wc/v3``) JSON and the core snapshots.

Nothing here does I/O: the sync layer fetches payloads (and products, for categories) and
hands them in; these functions only read them.

Conventions of the WooCommerce payloads this module relies on (see
``shared/reference/platform-apis.md`` section 1):

* Money values are strings with two decimals (``"29.35"``). They are parsed as
  :class:`~decimal.Decimal`, never through ``float``; a JSON float, a bool, ``NaN``,
  ``Infinity`` or anything out of the core's range is refused.
* Dates carry no offset. Every ``date_*`` field has a ``date_*_gmt`` twin in UTC; the
  ``_gmt`` field is always preferred (see :func:`parse_wc_datetime`).
* ``customer_id`` 0 means a guest order: the only identity is ``billing.email``.
* Order ``refunds[]`` summaries carry a *negative* ``total`` string and the reason under
  ``reason`` (core) or ``refund`` (the docs' examples); refund resources from
  ``/orders/<id>/refunds`` carry a *positive* ``amount`` and line items with negative
  ``quantity``/``total`` plus ``_refunded_item_id`` meta pointing at the original line.
* WooCommerce lower-cases coupon codes on save (``wc_strtolower`` on the
  ``woocommerce_coupon_code`` filter). ``coupon_codes`` are passed through as the store reports
  them, so compare them with our issued codes case-insensitively.

Every failure while reading a payload is raised as :class:`~loyalty_plugins.errors.MappingError`
whose ``path`` names the field (``line_items[2].total``); the underlying error, if any, is
kept as ``__cause__``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final, Literal

from loyalty_plugins.domain.money import Money, currency_exponent, normalize_currency, to_decimal
from loyalty_plugins.domain.orders import (
    CustomerRef,
    LineItem,
    OrderSnapshot,
    PaymentState,
    RefundLine,
    RefundSnapshot,
)
from loyalty_plugins.domain.rewards import RewardKind
from loyalty_plugins.errors import InvalidAmount, LoyaltyError, MappingError, ValidationError

__all__ = [
    "COUPON_TAG_KEY",
    "META_BIRTHDAY",
    "META_POINTS",
    "META_TIER",
    "PLATFORM",
    "STATUS_MAP",
    "coupon_payload",
    "coupon_usage",
    "customer_birthday",
    "customer_meta_update",
    "map_customer",
    "map_embedded_refunds",
    "map_order",
    "map_refund",
    "parse_wc_datetime",
]

PLATFORM: Final = "woocommerce"

#: ``meta_data`` key our reward coupons are tagged with (value ``"1"``).
COUPON_TAG_KEY: Final = "_loyalty_plugins"
#: Customer ``meta_data`` key holding the points balance we publish.
META_POINTS: Final = "loyalty_points"
#: Customer ``meta_data`` key holding the tier we publish.
META_TIER: Final = "loyalty_tier"
#: Customer ``meta_data`` key read by :func:`customer_birthday`.
META_BIRTHDAY: Final = "birthday"

#: WooCommerce order status -> what it means for loyalty.
#:
#: ``refunded`` is set by WooCommerce when an order is *fully* refunded. It maps to
#: :attr:`PaymentState.VOID` like ``cancelled``; if points were already awarded for the
#: order, the reversal is carried by its refund objects (:func:`map_refund`,
#: :func:`map_embedded_refunds`) and the sync layer handles the transition; the mapping
#: itself does not try to tell "never paid" from "paid, then refunded".
STATUS_MAP: Final[Mapping[str, PaymentState]] = MappingProxyType(
    {
        "processing": PaymentState.PAID,
        "completed": PaymentState.PAID,
        "pending": PaymentState.NOT_YET,
        "on-hold": PaymentState.NOT_YET,
        "checkout-draft": PaymentState.NOT_YET,
        "draft": PaymentState.NOT_YET,
        "auto-draft": PaymentState.NOT_YET,
        "new": PaymentState.NOT_YET,
        "cancelled": PaymentState.VOID,
        "refunded": PaymentState.VOID,
        "failed": PaymentState.VOID,
        "trash": PaymentState.VOID,
    }
)

GuestPolicy = Literal["match_email", "skip"]

# WooCommerce decimals: optional sign, ASCII digits, optional fraction. No exponent, no
# "NaN"/"Infinity", no underscores or non-ASCII digits (all of which Decimal() would accept).
_DECIMAL_RE: Final = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_DIGITS_RE: Final = re.compile(r"[0-9]+")
_ISO_DATE_RE: Final = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
# Python exceptions that bad input may still provoke deep inside a conversion; they are
# turned into MappingError at the innermost field being read.
_WRAPPED: Final[tuple[type[Exception], ...]] = (
    LoyaltyError,
    TypeError,
    ValueError,
    KeyError,
    IndexError,
    ArithmeticError,
)


# --------------------------------------------------------------------------- helpers


@contextmanager
def _at(path: str) -> Iterator[None]:
    """Turn any failure inside the block into ``MappingError(path=path)``.

    An inner :class:`MappingError` (which already names a more precise path) passes through.
    """
    try:
        yield
    except MappingError:
        raise
    except _WRAPPED as exc:
        raise MappingError(str(exc) or type(exc).__name__, path=path) from exc


def _describe(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _mapping(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MappingError(f"expected an object, got {_describe(value)}", path=path)
    return value


def _list(value: object, path: str, *, optional: bool = False) -> Sequence[Any]:
    if value is None and optional:
        return ()
    if not isinstance(value, list | tuple):
        raise MappingError(f"expected a list, got {_describe(value)}", path=path)
    return value


def _join(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


def _required(obj: Mapping[str, Any], key: str, parent: str = "") -> Any:
    path = _join(parent, key)
    if key not in obj:
        raise MappingError("missing", path=path)
    value = obj[key]
    if value is None:
        raise MappingError("is null", path=path)
    return value


def _opt_str(obj: Mapping[str, Any], key: str, parent: str = "") -> str | None:
    """A string field; ``None``/missing/blank -> ``None``; other types are an error."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MappingError(f"expected a string, got {_describe(value)}", path=_join(parent, key))
    value = value.strip()
    return value or None


def _text(obj: Mapping[str, Any], key: str, parent: str = "") -> str:
    """A display string (HTML entities decoded as WooCommerce sends them encoded)."""
    value = _opt_str(obj, key, parent)
    return html.unescape(value) if value else ""


def _id(value: object, path: str, *, allow_zero: bool = False) -> str:
    """A WooCommerce id: an integer (or a string of ASCII digits) -> its decimal string."""
    if isinstance(value, bool):
        raise MappingError(f"expected an integer id, got {_describe(value)}", path=path)
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DIGITS_RE.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        raise MappingError(f"expected an integer id, got {_describe(value)}", path=path)
    if number < 0 or (number == 0 and not allow_zero):
        raise MappingError(f"id must be positive, got {number}", path=path)
    return str(number)


def _opt_id(obj: Mapping[str, Any], key: str, parent: str) -> str:
    """An id that may be 0, missing or null (all read as ``"0"``)."""
    value = obj.get(key)
    return "0" if value is None else _id(value, _join(parent, key), allow_zero=True)


def _int(value: object, path: str) -> int:
    """A JSON integer (never a bool or a float)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise MappingError(f"expected an integer, got {_describe(value)}", path=path)
    return value


def _decimal(value: object, path: str) -> Decimal:
    """Parse a WooCommerce money string (or a JSON integer) exactly."""
    if isinstance(value, bool | float):
        raise MappingError(
            f"expected a decimal string, got {type(value).__name__} {_describe(value)}", path=path
        )
    if isinstance(value, str) and not _DECIMAL_RE.fullmatch(value.strip()):
        raise MappingError(f"not a decimal number: {_describe(value)}", path=path)
    if not isinstance(value, str | int):
        raise MappingError(f"expected a decimal string, got {_describe(value)}", path=path)
    with _at(path):
        return to_decimal(value, path)


def _money(value: object, currency: str, path: str, *, sign: Literal["+", "-", "abs"]) -> Money:
    """Money from a decimal field; ``sign`` says which sign the field must have.

    ``"+"``: must be >= 0. ``"-"``: must be <= 0 and is negated. ``"abs"``: either sign,
    the absolute value is kept.
    """
    amount = _decimal(value, path)
    if sign == "+" and amount < 0:
        raise MappingError(f"negative amount {value!r}", path=path)
    if sign == "-" and amount > 0:
        raise MappingError(f"expected a negative amount, got {value!r}", path=path)
    with _at(path):
        return Money(abs(amount), currency)


def _opt_money(obj: Mapping[str, Any], key: str, currency: str) -> Money | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    return _money(value, currency, key, sign="+")


def _currency(value: object, path: str) -> str:
    with _at(path):
        return normalize_currency(value)


def _date_field(obj: Mapping[str, Any], key: str, *, required: bool = False) -> datetime | None:
    """``<key>_gmt`` (UTC), else ``<key>`` (site-local, read as UTC)."""
    gmt_key = f"{key}_gmt"
    result = parse_wc_datetime(obj.get(gmt_key), obj.get(key), field=gmt_key, local_field=key)
    if result is None and required:
        raise MappingError("missing", path=gmt_key)
    return result


def _meta_value(meta: object, key: str, path: str) -> Any:
    """The value of the first ``meta_data`` entry named ``key`` (``None`` if absent)."""
    for index, entry in enumerate(_list(meta, path, optional=True)):
        item = _mapping(entry, f"{path}[{index}]")
        if item.get("key") == key:
            return item.get("value")
    return None


# --------------------------------------------------------------------------- dates


def parse_wc_datetime(
    value_gmt: object,
    value_local: object = None,
    *,
    field: str = "date_gmt",
    local_field: str = "date",
) -> datetime | None:
    """Parse a WooCommerce date pair into an aware UTC datetime.

    ``value_gmt`` is a ``date_*_gmt`` value: ISO 8601 without an offset, in UTC. Only when it
    is missing (``None`` or ``""``) is ``value_local`` (the site-local ``date_*`` twin) used,
    and it is then **read as UTC too**: the site's timezone is not in the payload, so this can
    be off by the site's UTC offset (only legacy or odd payloads lack the ``_gmt`` field).
    A value that carries an explicit offset is converted to UTC.

    Returns ``None`` when both are ``None``/``""``. Raises :class:`MappingError` naming
    ``field`` (or ``local_field``) for anything that is not an ISO 8601 date-time string.
    """
    for value, name in ((value_gmt, field), (value_local, local_field)):
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise MappingError(f"expected an ISO 8601 string, got {_describe(value)}", path=name)
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise MappingError(f"not an ISO 8601 date-time: {_describe(value)}", path=name) from exc
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        with _at(name):
            return parsed.astimezone(UTC)
    return None


# --------------------------------------------------------------------------- orders


def _state(status: object) -> PaymentState:
    if not isinstance(status, str):
        raise MappingError(f"expected a string, got {_describe(status)}", path="status")
    slug = status.strip().lower().removeprefix("wc-")
    try:
        return STATUS_MAP[slug]
    except KeyError:
        raise MappingError(f"unknown order status {status!r}", path="status") from None


def _order_customer(
    payload: Mapping[str, Any], store: str, guest_policy: GuestPolicy
) -> CustomerRef | None:
    customer_id = _id(_required(payload, "customer_id"), "customer_id", allow_zero=True)
    raw_billing = payload.get("billing")
    billing = {} if raw_billing is None else _mapping(raw_billing, "billing")
    email = _opt_str(billing, "email", "billing")
    if customer_id == "0":
        if guest_policy == "skip":
            return None
        if email is None:
            raise MappingError("guest order without an e-mail", path="billing.email")
    with _at("customer_id"):
        return CustomerRef(
            platform=PLATFORM,
            store=store,
            external_id=None if customer_id == "0" else customer_id,
            email=email,
            first_name=_opt_str(billing, "first_name", "billing"),
            last_name=_opt_str(billing, "last_name", "billing"),
        )


def _line(
    raw: object,
    path: str,
    currency: str,
    categories: Mapping[str, tuple[str, ...]],
) -> LineItem:
    item = _mapping(raw, path)
    line_id = _id(_required(item, "id", path), f"{path}.id")
    # product_id is 0 when the product was deleted; variation_id is 0 for simple products.
    product_id = _opt_id(item, "product_id", path)
    variation_id = _opt_id(item, "variation_id", path)
    quantity = _int(_required(item, "quantity", path), f"{path}.quantity")
    if quantity < 0:
        raise MappingError(f"negative quantity {quantity}", path=f"{path}.quantity")
    total = _money(_required(item, "total", path), currency, f"{path}.total", sign="+")
    found = categories.get(product_id)
    if found is None and variation_id != "0":
        found = categories.get(variation_id)
    with _at(path):
        return LineItem(
            line_id=line_id,
            product_id=product_id,
            quantity=quantity,
            total=total,
            name=_text(item, "name", path),
            sku=_opt_str(item, "sku", path) or "",
            categories=tuple(found or ()),
        )


def _coupon_codes(payload: Mapping[str, Any]) -> tuple[str, ...]:
    codes: list[str] = []
    for index, raw in enumerate(_list(payload.get("coupon_lines"), "coupon_lines", optional=True)):
        path = f"coupon_lines[{index}]"
        code = _opt_str(_mapping(raw, path), "code", path)
        if code is None:
            raise MappingError("missing", path=f"{path}.code")
        codes.append(code)
    return tuple(codes)


def _attributes(payload: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """A few informative extras, only when they have the expected simple type."""
    found: list[tuple[str, str]] = []
    for key in ("created_via", "payment_method"):
        value = payload.get(key)
        if isinstance(value, str) and value:
            found.append((key, value))
    parent = payload.get("parent_id")
    if isinstance(parent, int) and not isinstance(parent, bool) and parent > 0:
        found.append(("parent_id", str(parent)))
    prices_include_tax = payload.get("prices_include_tax")
    if isinstance(prices_include_tax, bool):
        found.append(("prices_include_tax", "true" if prices_include_tax else "false"))
    return tuple(found)


def map_order(
    payload: Mapping[str, Any],
    store: str,
    *,
    categories: Mapping[str, tuple[str, ...]] | None = None,
    guest_policy: GuestPolicy = "match_email",
) -> OrderSnapshot | None:
    """Map a ``wc/v3`` order resource to an :class:`OrderSnapshot`.

    * ``state`` comes from ``status`` through :data:`STATUS_MAP` (a ``wc-`` prefix is
      tolerated; an unknown status is a :class:`MappingError` naming it). ``raw_status``
      keeps the status as sent. ``refunded`` maps to ``VOID``: the refund objects carry the
      reversal of points already awarded, and the sync layer handles that transition.
    * ``total`` is the order ``total``; ``shipping_total`` and ``tax_total`` come from
      ``shipping_total`` and ``total_tax`` (``None`` when blank).
    * Each line's ``total`` is the line ``total`` (after discounts, before tax). Its
      ``categories`` are looked up in ``categories`` (product id as a string -> category
      names; the sync layer fetches products) by ``product_id``, then by ``variation_id``.
      Names are HTML-unescaped (WooCommerce sends ``&ndash;``).
    * The customer is ``customer_id`` with ``billing`` e-mail and names; ``customer_id`` 0 is
      a guest (``external_id`` ``None``). With ``guest_policy="skip"`` a guest order returns
      ``None``; with ``"match_email"`` a guest order without ``billing.email`` is an error.
    * ``placed_at``/``paid_at``/``modified_at`` come from ``date_created_gmt``,
      ``date_paid_gmt`` and ``date_modified_gmt`` (see :func:`parse_wc_datetime`).
    * ``coupon_codes`` are the ``coupon_lines[].code`` values as the store reports them.

    Raises :class:`MappingError` (with ``path`` naming the field and the original error as
    ``__cause__``) for anything that cannot be mapped.
    """
    if guest_policy not in ("match_email", "skip"):
        raise ValidationError("guest_policy", f"unknown guest policy {guest_policy!r}")
    with _at(""):
        order = _mapping(payload, "")
        order_id = _id(_required(order, "id"), "id")
        raw_status = _required(order, "status")
        state = _state(raw_status)
        currency = _currency(_required(order, "currency"), "currency")
        customer = _order_customer(order, store, guest_policy)
        if customer is None:
            return None
        total = _money(_required(order, "total"), currency, "total", sign="+")
        lookup: Mapping[str, tuple[str, ...]] = categories or {}
        lines = tuple(
            _line(raw, f"line_items[{index}]", currency, lookup)
            for index, raw in enumerate(_list(_required(order, "line_items"), "line_items"))
        )
        number = _opt_str(order, "number") or order_id
        placed_at = _date_field(order, "date_created", required=True)
        assert placed_at is not None  # required=True
        return OrderSnapshot(
            platform=PLATFORM,
            store=store,
            order_id=order_id,
            state=state,
            currency=currency,
            total=total,
            customer=customer,
            placed_at=placed_at,
            lines=lines,
            paid_at=_date_field(order, "date_paid"),
            modified_at=_date_field(order, "date_modified"),
            number=number,
            shipping_total=_opt_money(order, "shipping_total", currency),
            tax_total=_opt_money(order, "total_tax", currency),
            raw_status=str(raw_status),
            coupon_codes=_coupon_codes(order),
            attributes=_attributes(order),
        )


# --------------------------------------------------------------------------- refunds


def _reason(obj: Mapping[str, Any], *keys: str, parent: str = "") -> str:
    for key in keys:
        value = _opt_str(obj, key, parent)
        if value is not None:
            return html.unescape(value)
    return ""


def _refund_line(raw: object, path: str, currency: str) -> RefundLine:
    item = _mapping(raw, path)
    meta_path = f"{path}.meta_data"
    original = _meta_value(item.get("meta_data"), "_refunded_item_id", meta_path)
    if original is None:
        raise MappingError("no _refunded_item_id meta", path=meta_path)
    line_id = _id(original, f"{meta_path}[_refunded_item_id]")
    raw_quantity = item.get("quantity")
    quantity = 0 if raw_quantity is None else _int(raw_quantity, f"{path}.quantity")
    amount = _money(_required(item, "total", path), currency, f"{path}.total", sign="abs")
    return RefundLine(line_id=line_id, quantity=abs(quantity), amount=amount)


def map_refund(
    payload: Mapping[str, Any], store: str, order_id: str, currency: str
) -> RefundSnapshot:
    """Map a refund resource from ``/orders/<order_id>/refunds`` to a :class:`RefundSnapshot`.

    ``amount`` is the refund's positive ``amount`` string. Each refund line item (negative
    ``quantity``/``total``) becomes a :class:`RefundLine` for the *original* order line named
    by its ``_refunded_item_id`` meta, with absolute quantity and amount. ``created_at`` is
    ``date_created_gmt``. Refund resources carry no currency: pass the order's ``currency``.

    A zero ``amount`` (WooCommerce allows restock-only refunds) cannot be represented by
    :class:`RefundSnapshot` and is reported as a :class:`MappingError` on ``amount``.
    """
    with _at(""):
        refund = _mapping(payload, "")
        with _at("order_id"):
            order_ref = _id(order_id, "order_id")
        code = _currency(currency, "currency")
        refund_id = _id(_required(refund, "id"), "id")
        amount = _money(_required(refund, "amount"), code, "amount", sign="+")
        if amount.is_zero():
            raise MappingError("zero-amount refund", path="amount")
        created_at = _date_field(refund, "date_created", required=True)
        assert created_at is not None
        lines = tuple(
            _refund_line(raw, f"line_items[{index}]", code)
            for index, raw in enumerate(
                _list(refund.get("line_items"), "line_items", optional=True)
            )
        )
        return RefundSnapshot(
            platform=PLATFORM,
            store=store,
            order_id=order_ref,
            refund_id=refund_id,
            amount=amount,
            created_at=created_at,
            reason=_reason(refund, "reason"),
            lines=lines,
        )


def map_embedded_refunds(order_payload: Mapping[str, Any], store: str) -> list[RefundSnapshot]:
    """Map the ``refunds[]`` summaries inside an order resource.

    Each summary is ``{"id", "reason" | "refund", "total"}`` with a *negative* ``total``
    string (core emits ``reason``, the docs' examples ``refund``; both are read, ``reason``
    first). The summaries carry no date, so ``created_at`` is the order's
    ``date_modified_gmt`` (creating a refund normally touches the order, but this is only an
    approximation: in the docs' own example refund 726 is dated after order 723's last
    change). They carry no line detail either (``lines`` is empty); for exact dates and lines
    fetch ``/orders/<id>/refunds`` and use :func:`map_refund`.
    Summaries whose total is zero are skipped (nothing to reverse).
    """
    with _at(""):
        order = _mapping(order_payload, "")
        order_id = _id(_required(order, "id"), "id")
        raw_refunds = _list(order.get("refunds"), "refunds", optional=True)
        if not raw_refunds:
            return []
        currency = _currency(_required(order, "currency"), "currency")
        created_at = _date_field(order, "date_modified", required=True)
        assert created_at is not None
        result: list[RefundSnapshot] = []
        for index, raw in enumerate(raw_refunds):
            path = f"refunds[{index}]"
            item = _mapping(raw, path)
            refund_id = _id(_required(item, "id", path), f"{path}.id")
            amount = _money(_required(item, "total", path), currency, f"{path}.total", sign="-")
            if amount.is_zero():
                continue
            with _at(path):
                reason = _reason(item, "reason", "refund", parent=path)
                result.append(
                    RefundSnapshot(
                        platform=PLATFORM,
                        store=store,
                        order_id=order_id,
                        refund_id=refund_id,
                        amount=amount,
                        created_at=created_at,
                        reason=reason,
                    )
                )
        return result


# --------------------------------------------------------------------------- customers


def map_customer(payload: Mapping[str, Any], store: str) -> CustomerRef:
    """Map a ``wc/v3`` customer resource to a :class:`CustomerRef`.

    ``external_id`` is the customer ``id``; ``email``, ``first_name`` and ``last_name`` come
    from the top-level fields, falling back to ``billing`` when blank.
    """
    with _at(""):
        customer = _mapping(payload, "")
        customer_id = _id(_required(customer, "id"), "id")
        raw_billing = customer.get("billing")
        billing = {} if raw_billing is None else _mapping(raw_billing, "billing")

        def pick(key: str) -> str | None:
            return _opt_str(customer, key) or _opt_str(billing, key, "billing")

        with _at("id"):
            return CustomerRef(
                platform=PLATFORM,
                store=store,
                external_id=customer_id,
                email=pick("email"),
                first_name=pick("first_name"),
                last_name=pick("last_name"),
            )


def customer_birthday(payload: Mapping[str, Any]) -> date | None:
    """The customer's birthday from the first ``meta_data`` entry keyed ``birthday``.

    The value must be ``YYYY-MM-DD`` and a real calendar date; anything else (missing,
    malformed payload, other format, impossible date) gives ``None``. Never raises.
    """
    try:
        value = _meta_value(payload.get("meta_data"), META_BIRTHDAY, "meta_data")
    except (MappingError, AttributeError, TypeError):
        return None
    if not isinstance(value, str):
        return None
    match = _ISO_DATE_RE.fullmatch(value.strip())
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def customer_meta_update(balance: int, tier: str | None) -> dict[str, Any]:
    """The ``PUT /customers/<id>`` body publishing a points balance and tier as meta.

    Values are strings, as WordPress stores meta. ``tier=None`` writes an empty string so a
    previously published tier does not linger. Entries carry no meta ``id``: WooCommerce
    upserts by key (last writer wins).
    """
    if isinstance(balance, bool) or not isinstance(balance, int):
        raise InvalidAmount("balance", f"{balance!r} is not an integer")
    if tier is not None and not isinstance(tier, str):
        raise ValidationError("tier", f"{tier!r} is not a string")
    return {
        "meta_data": [
            {"key": META_POINTS, "value": str(balance)},
            {"key": META_TIER, "value": tier or ""},
        ]
    }


# --------------------------------------------------------------------------- coupons


def _format_amount(value: Decimal) -> str:
    """At least two decimals, never rounded (``10`` -> ``"10.00"``, ``1.234`` kept)."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -2:
        value = value.quantize(Decimal("0.01"))
    return f"{value:f}"


def _format_gmt(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValidationError("expires_at", "must be timezone-aware")
    return moment.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat()


def coupon_payload(
    code: str,
    *,
    kind: RewardKind | str,
    value: Decimal | str | int,
    currency: str | None,
    email: str | None,
    expires_at: datetime | None,
    product_id: str | int | None = None,
    minimum_order: Decimal | str | int = Decimal(0),
) -> dict[str, Any]:
    """The ``POST /coupons`` body for one of our reward coupons.

    * ``fixed_amount``: ``discount_type`` ``fixed_cart``, ``amount`` = ``value`` (needs a
      ``currency``; validated against its minor unit).
    * ``percent``: ``discount_type`` ``percent``, ``amount`` = ``value`` (0 < value <= 100).
    * ``free_shipping``: ``discount_type`` ``fixed_cart``, ``amount`` ``"0.00"``,
      ``free_shipping`` true (only effective if the shop's free-shipping method accepts
      coupons).
    * ``free_product``: ``discount_type`` ``percent``, ``amount`` ``"100.00"``,
      ``product_ids`` ``[product_id]`` and ``limit_usage_to_x_items`` 1.

    Always single use (``usage_limit`` and ``usage_limit_per_user`` 1), ``individual_use``,
    restricted to ``email`` (``None``: no e-mail restriction), expiring at ``expires_at``
    (aware; sent as ``date_expires_gmt`` without offset; ``None``: never), with
    ``minimum_amount`` and the ``_loyalty_plugins`` meta tag. Amounts are strings with at
    least two decimals. Invalid arguments raise :class:`ValidationError`/``InvalidAmount``.
    Note that WooCommerce lower-cases the code on save.
    """
    if not isinstance(code, str) or not code.strip():
        raise ValidationError("code", "must be a non-empty string")
    try:
        reward_kind = RewardKind(kind)
    except ValueError:
        raise ValidationError("kind", f"unknown reward kind {kind!r}") from None
    amount = to_decimal(value, "value")
    minimum = to_decimal(minimum_order, "minimum_order")
    if minimum < 0:
        raise InvalidAmount("minimum_order", "must not be negative")
    if email is not None and (not isinstance(email, str) or "@" not in email):
        raise ValidationError("email", f"{email!r} is not an e-mail address")

    body: dict[str, Any] = {"code": code.strip()}
    if reward_kind is RewardKind.FIXED_AMOUNT:
        if currency is None:
            raise ValidationError("currency", "a fixed-amount coupon needs a currency")
        money = Money(amount, currency)
        if money.amount <= 0 or money.amount != amount:
            raise InvalidAmount(
                "value", f"{value!r} is not a positive amount in {money.currency} minor units"
            )
        places = max(2, currency_exponent(money.currency))
        body.update(discount_type="fixed_cart", amount=f"{money.amount:.{places}f}")
    elif reward_kind is RewardKind.PERCENT:
        if not Decimal(0) < amount <= Decimal(100):
            raise InvalidAmount("value", "a percent coupon needs 0 < value <= 100")
        body.update(discount_type="percent", amount=_format_amount(amount))
    elif reward_kind is RewardKind.FREE_SHIPPING:
        body.update(discount_type="fixed_cart", amount="0.00", free_shipping=True)
    else:  # FREE_PRODUCT
        if product_id is None:
            raise ValidationError("product_id", "a free-product coupon needs a product")
        try:
            product = int(_id(product_id, "product_id"))
        except MappingError as exc:
            raise ValidationError("product_id", exc.reason) from exc
        body.update(
            discount_type="percent",
            amount="100.00",
            product_ids=[product],
            limit_usage_to_x_items=1,
        )
    body.update(
        individual_use=True,
        usage_limit=1,
        usage_limit_per_user=1,
        email_restrictions=[email.strip()] if email is not None else [],
        date_expires_gmt=_format_gmt(expires_at) if expires_at is not None else None,
        minimum_amount=_format_amount(minimum),
        meta_data=[{"key": COUPON_TAG_KEY, "value": "1"}],
    )
    return body


def coupon_usage(payload: Mapping[str, Any]) -> tuple[int, list[str]]:
    """``(usage_count, used_by)`` of a coupon resource.

    ``used_by`` holds customer ids *or* guest e-mails; both are returned as strings.
    """
    with _at(""):
        coupon = _mapping(payload, "")
        raw_count = coupon.get("usage_count")
        count = 0 if raw_count is None else _int(raw_count, "usage_count")
        if count < 0:
            raise MappingError(f"negative usage count {count}", path="usage_count")
        used_by: list[str] = []
        for index, raw in enumerate(_list(coupon.get("used_by"), "used_by", optional=True)):
            if isinstance(raw, str) and raw.strip():
                used_by.append(raw.strip())
            elif isinstance(raw, int) and not isinstance(raw, bool):
                used_by.append(str(raw))
            else:
                raise MappingError(
                    f"expected an id or e-mail, got {_describe(raw)}", path=f"used_by[{index}]"
                )
        return count, used_by
