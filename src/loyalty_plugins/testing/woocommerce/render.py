"""Turn store records into the JSON shapes of WooCommerce ``wc/v3`` and encode them.

Shapes follow the real payloads in ``shared/fixtures/real/woocommerce`` key for key: money
is a string with two decimals, ids are ints, dates come as ``YYYY-MM-DDTHH:MM:SS`` with a
``_gmt`` twin, a line item's ``price`` is a JSON number. :func:`wp_json` encodes like
``wp_json_encode`` (non-ASCII as ``\\uXXXX``, ``/`` as ``\\/``), so a webhook receiver that
re-serialises the body before checking the signature fails here as it would in production.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal, localcontext
from typing import Any

from .models import (
    Address,
    Category,
    Coupon,
    Customer,
    LineItem,
    Meta,
    Order,
    Product,
    Refund,
    Stamp,
    TaxShare,
    Webhook,
    WooRestError,
    money,
)
from .store import WEBHOOK_TOPIC_HOOKS, WooStore

__all__ = ["Renderer", "filter_fields", "fmt_money", "wp_json"]

_CURRENCY_SYMBOLS = {"EUR": "&euro;", "USD": "&#36;", "GBP": "&pound;", "CHF": "CHF"}


def fmt_money(value: Decimal) -> str:
    """``Decimal('29.346')`` -> ``"29.35"`` (two decimals, never ``-0.00``)."""
    return f"{money(value):f}"


def _fmt_tax(value: Decimal) -> str:
    """Line tax as core stores it: up to 4 decimals, trailing zeros trimmed (``"0.9"``)."""
    text = f"{value.normalize():f}"
    return "0" if text in ("-0", "0") else text


def _number(value: Decimal) -> Decimal:
    """A JSON number with at most 17 significant digits (what a PHP float prints)."""
    with localcontext() as ctx:
        ctx.prec = 17
        result = +value
    normalized = result.normalize()
    return normalized if normalized != 0 else Decimal(0)


def _date(stamp: Stamp | None, gmt: bool) -> str | None:
    if stamp is None:
        return None
    return (stamp.gmt if gmt else stamp.local).strftime("%Y-%m-%dT%H:%M:%S")


def _meta(metas: Iterable[Meta]) -> list[dict[str, Any]]:
    return [{"id": m.id, "key": m.key, "value": m.value} for m in metas]


def _address(address: Address, billing: bool) -> dict[str, str]:
    data = {
        "first_name": address.first_name,
        "last_name": address.last_name,
        "company": address.company,
        "address_1": address.address_1,
        "address_2": address.address_2,
        "city": address.city,
        "state": address.state,
        "postcode": address.postcode,
        "country": address.country,
    }
    if billing:
        data["email"] = address.email
        data["phone"] = address.phone
    return data


def _taxes(taxes: Sequence[TaxShare], with_subtotal: bool = True) -> list[dict[str, Any]]:
    return [
        {
            "id": t.rate_id,
            "total": _fmt_tax(t.total),
            "subtotal": _fmt_tax(t.subtotal) if with_subtotal else "",
        }
        for t in taxes
    ]


def filter_fields(obj: dict[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """Apply WordPress ``_fields`` (top-level names; ``a.b`` keeps all of ``a``)."""
    wanted = {f.split(".", 1)[0] for f in fields if f}
    return {k: v for k, v in obj.items() if k in wanted}


class Renderer:
    """Render records for one site URL (used in ``_links`` and permalinks)."""

    def __init__(self, store: WooStore, site_url: str) -> None:
        self.store = store
        self.site_url = site_url.rstrip("/")
        self.api = f"{self.site_url}/wp-json/wc/v3"

    def _links(self, path: str, collection: str, **extra: str) -> dict[str, list[dict[str, str]]]:
        links = {
            "self": [{"href": f"{self.api}/{path}"}],
            "collection": [{"href": f"{self.api}/{collection}"}],
        }
        for name, target in extra.items():
            links[name] = [{"href": f"{self.api}/{target}"}]
        return links

    # ------------------------------------------------------------------ orders
    def line_item(self, item: LineItem) -> dict[str, Any]:
        """One ``line_items`` entry (refund lines too: negative numbers)."""
        quantity = abs(item.quantity) or 1
        return {
            "id": item.id,
            "name": item.name,
            "product_id": item.product_id,
            "variation_id": item.variation_id,
            "quantity": item.quantity,
            "tax_class": item.tax_class,
            "subtotal": fmt_money(item.subtotal),
            "subtotal_tax": fmt_money(item.subtotal_tax),
            "total": fmt_money(item.total),
            "total_tax": fmt_money(item.total_tax),
            "taxes": _taxes(item.taxes),
            "meta_data": _meta(item.meta_data),
            "sku": item.sku,
            "price": _number(item.total / quantity),
        }

    def order(self, order: Order) -> dict[str, Any]:
        """``GET /orders/<id>``."""
        extra = {"customer": f"customers/{order.customer_id}"} if order.customer_id else {}
        return {
            "id": order.id,
            "parent_id": order.parent_id,
            "number": str(order.id),
            "order_key": order.order_key,
            "created_via": order.created_via,
            "version": order.version,
            "status": order.status,
            "currency": order.currency,
            "date_created": _date(order.date_created, False),
            "date_created_gmt": _date(order.date_created, True),
            "date_modified": _date(order.date_modified, False),
            "date_modified_gmt": _date(order.date_modified, True),
            "discount_total": fmt_money(order.discount_total),
            "discount_tax": fmt_money(order.discount_tax),
            "shipping_total": fmt_money(order.shipping_total),
            "shipping_tax": fmt_money(order.shipping_tax),
            "cart_tax": fmt_money(order.cart_tax),
            "total": fmt_money(order.total),
            "total_tax": fmt_money(order.total_tax),
            "prices_include_tax": order.prices_include_tax,
            "customer_id": order.customer_id,
            "customer_ip_address": order.customer_ip_address,
            "customer_user_agent": order.customer_user_agent,
            "customer_note": order.customer_note,
            "billing": _address(order.billing, True),
            "shipping": _address(order.shipping, False),
            "payment_method": order.payment_method,
            "payment_method_title": order.payment_method_title,
            "transaction_id": order.transaction_id,
            "date_paid": _date(order.date_paid, False),
            "date_paid_gmt": _date(order.date_paid, True),
            "date_completed": _date(order.date_completed, False),
            "date_completed_gmt": _date(order.date_completed, True),
            "cart_hash": order.cart_hash,
            "meta_data": _meta(order.meta_data),
            "line_items": [self.line_item(li) for li in order.line_items],
            "tax_lines": [
                {
                    "id": t.id,
                    "rate_code": t.rate_code,
                    "rate_id": t.rate_id,
                    "label": t.label,
                    "compound": t.compound,
                    "tax_total": fmt_money(t.tax_total),
                    "shipping_tax_total": fmt_money(t.shipping_tax_total),
                    "meta_data": _meta(t.meta_data),
                }
                for t in order.tax_lines
            ],
            "shipping_lines": [
                {
                    "id": s.id,
                    "method_title": s.method_title,
                    "method_id": s.method_id,
                    "total": fmt_money(s.total),
                    "total_tax": fmt_money(s.total_tax),
                    "taxes": _taxes(s.taxes, with_subtotal=False),
                    "meta_data": _meta(s.meta_data),
                }
                for s in order.shipping_lines
            ],
            "fee_lines": [
                {
                    "id": f.id,
                    "name": f.name,
                    "tax_class": f.tax_class,
                    "tax_status": f.tax_status,
                    "total": fmt_money(f.total),
                    "total_tax": fmt_money(f.total_tax),
                    "taxes": _taxes(f.taxes, with_subtotal=False),
                    "meta_data": _meta(f.meta_data),
                }
                for f in order.fee_lines
            ],
            "coupon_lines": [
                {
                    "id": c.id,
                    "code": c.code,
                    "discount": fmt_money(c.discount),
                    "discount_tax": fmt_money(c.discount_tax),
                    "meta_data": _meta(c.meta_data),
                }
                for c in order.coupon_lines
            ],
            "refunds": [
                {"id": r.id, "reason": r.reason, "total": "-" + fmt_money(r.amount)}
                for r in order.refunds
            ],
            "_links": self._links(f"orders/{order.id}", "orders", **extra),
        }

    def refund(self, refund: Refund, *, with_parent: bool = False) -> dict[str, Any]:
        """``GET /orders/<id>/refunds/<rid>``; ``with_parent`` adds ``parent_id`` (``/refunds``)."""
        data: dict[str, Any] = {"id": refund.id}
        if with_parent:
            data["parent_id"] = refund.order_id
        data.update(
            {
                "date_created": _date(refund.date_created, False),
                "date_created_gmt": _date(refund.date_created, True),
                "amount": fmt_money(refund.amount),
                "reason": refund.reason,
                "refunded_by": refund.refunded_by,
                "refunded_payment": refund.refunded_payment,
                "meta_data": _meta(refund.meta_data),
                "line_items": [self.line_item(li) for li in refund.line_items],
                "_links": self._links(
                    f"orders/{refund.order_id}/refunds/{refund.id}",
                    f"orders/{refund.order_id}/refunds",
                    up=f"orders/{refund.order_id}",
                ),
            }
        )
        return data

    # ------------------------------------------------------------------ customers
    def customer(self, customer: Customer) -> dict[str, Any]:
        """``GET /customers/<id>``."""
        digest = hashlib.md5(customer.email.encode(), usedforsecurity=False).hexdigest()
        return {
            "id": customer.id,
            "date_created": _date(customer.date_created, False),
            "date_created_gmt": _date(customer.date_created, True),
            "date_modified": _date(customer.date_modified, False),
            "date_modified_gmt": _date(customer.date_modified, True),
            "email": customer.email,
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "role": customer.role,
            "username": customer.username,
            "billing": _address(customer.billing, True),
            "shipping": _address(customer.shipping, False),
            "is_paying_customer": customer.is_paying_customer,
            "avatar_url": f"https://secure.gravatar.com/avatar/{digest}?s=96",
            "meta_data": _meta(customer.meta_data),
            "_links": self._links(f"customers/{customer.id}", "customers"),
        }

    # ------------------------------------------------------------------ catalogue
    def product(self, product: Product) -> dict[str, Any]:
        """``GET /products/<id>`` (shape of the docs' product example)."""
        symbol = _CURRENCY_SYMBOLS.get(self.store.currency, self.store.currency)
        price = fmt_money(product.regular_price)
        categories = []
        for cat_id in product.categories:
            cat = self.store.get_category(cat_id)
            if cat is not None:
                categories.append({"id": cat.id, "name": cat.name, "slug": cat.slug})
        return {
            "id": product.id,
            "name": product.name,
            "slug": product.slug,
            "permalink": f"{self.site_url}/product/{product.slug}/",
            "date_created": _date(product.date_created, False),
            "date_created_gmt": _date(product.date_created, True),
            "date_modified": _date(product.date_modified, False),
            "date_modified_gmt": _date(product.date_modified, True),
            "type": product.type,
            "status": product.status,
            "featured": False,
            "catalog_visibility": "visible",
            "description": product.description,
            "short_description": product.short_description,
            "sku": product.sku,
            "price": price,
            "regular_price": "" if product.type == "variable" else price,
            "sale_price": "",
            "date_on_sale_from": None,
            "date_on_sale_from_gmt": None,
            "date_on_sale_to": None,
            "date_on_sale_to_gmt": None,
            "price_html": (
                '<span class="woocommerce-Price-amount amount"><span class="'
                f'woocommerce-Price-currencySymbol">{symbol}</span>{price}</span>'
            ),
            "on_sale": False,
            "purchasable": True,
            "total_sales": product.total_sales,
            "virtual": product.virtual,
            "downloadable": False,
            "downloads": [],
            "download_limit": -1,
            "download_expiry": -1,
            "external_url": "",
            "button_text": "",
            "tax_status": product.tax_status,
            "tax_class": "",
            "manage_stock": False,
            "stock_quantity": None,
            "stock_status": "instock",
            "backorders": "no",
            "backorders_allowed": False,
            "backordered": False,
            "sold_individually": False,
            "weight": "",
            "dimensions": {"length": "", "width": "", "height": ""},
            "shipping_required": not product.virtual,
            "shipping_taxable": not product.virtual,
            "shipping_class": "",
            "shipping_class_id": 0,
            "reviews_allowed": True,
            "average_rating": "0.00",
            "rating_count": 0,
            "related_ids": [],
            "upsell_ids": [],
            "cross_sell_ids": [],
            "parent_id": product.parent_id,
            "purchase_note": "",
            "categories": categories,
            "tags": [],
            "images": [],
            "attributes": [dict(a) for a in product.attributes],
            "default_attributes": [],
            "variations": list(product.variations),
            "grouped_products": [],
            "menu_order": 0,
            "meta_data": [],
            "_links": self._links(f"products/{product.id}", "products"),
        }

    def category(self, category: Category) -> dict[str, Any]:
        """``GET /products/categories/<id>`` (no image: ``[]`` as in the docs)."""
        extra = {"up": f"products/categories/{category.parent}"} if category.parent else {}
        return {
            "id": category.id,
            "name": category.name,
            "slug": category.slug,
            "parent": category.parent,
            "description": category.description,
            "display": category.display,
            "image": [],
            "menu_order": category.menu_order,
            "count": category.count,
            "_links": self._links(
                f"products/categories/{category.id}", "products/categories", **extra
            ),
        }

    # ------------------------------------------------------------------ coupons, webhooks
    def coupon(self, coupon: Coupon) -> dict[str, Any]:
        """``GET /coupons/<id>``."""
        return {
            "id": coupon.id,
            "code": coupon.code,
            "amount": fmt_money(coupon.amount),
            "date_created": _date(coupon.date_created, False),
            "date_created_gmt": _date(coupon.date_created, True),
            "date_modified": _date(coupon.date_modified, False),
            "date_modified_gmt": _date(coupon.date_modified, True),
            "discount_type": coupon.discount_type,
            "description": coupon.description,
            "date_expires": _date(coupon.date_expires, False),
            "date_expires_gmt": _date(coupon.date_expires, True),
            "usage_count": coupon.usage_count,
            "individual_use": coupon.individual_use,
            "product_ids": list(coupon.product_ids),
            "excluded_product_ids": list(coupon.excluded_product_ids),
            "usage_limit": coupon.usage_limit,
            "usage_limit_per_user": coupon.usage_limit_per_user,
            "limit_usage_to_x_items": coupon.limit_usage_to_x_items,
            "free_shipping": coupon.free_shipping,
            "product_categories": list(coupon.product_categories),
            "excluded_product_categories": list(coupon.excluded_product_categories),
            "exclude_sale_items": coupon.exclude_sale_items,
            "minimum_amount": fmt_money(coupon.minimum_amount),
            "maximum_amount": fmt_money(coupon.maximum_amount),
            "email_restrictions": list(coupon.email_restrictions),
            "used_by": list(coupon.used_by),
            "meta_data": _meta(coupon.meta_data),
            "_links": self._links(f"coupons/{coupon.id}", "coupons"),
        }

    def webhook(self, webhook: Webhook) -> dict[str, Any]:
        """``GET /webhooks/<id>`` (the secret is write-only and never shown)."""
        return {
            "id": webhook.id,
            "name": webhook.name,
            "status": webhook.status,
            "topic": webhook.topic,
            "resource": webhook.resource,
            "event": webhook.event,
            "hooks": list(WEBHOOK_TOPIC_HOOKS.get(webhook.topic, [])),
            "delivery_url": webhook.delivery_url,
            "date_created": _date(webhook.date_created, False),
            "date_created_gmt": _date(webhook.date_created, True),
            "date_modified": _date(webhook.date_modified, False),
            "date_modified_gmt": _date(webhook.date_modified, True),
            "_links": self._links(f"webhooks/{webhook.id}", "webhooks"),
        }

    def resource(self, kind: str, resource_id: int) -> dict[str, Any]:
        """The REST body of ``kind`` (``order``, ``customer``, ``coupon``, ``product``)."""
        with self.store.lock:
            if kind == "order":
                order = self.store.get_order(resource_id)
                if order is not None:
                    return self.order(order)
            elif kind == "customer":
                customer = self.store.get_customer(resource_id)
                if customer is not None:
                    return self.customer(customer)
            elif kind == "coupon":
                coupon = self.store.get_coupon(resource_id)
                if coupon is not None:
                    return self.coupon(coupon)
            elif kind == "product":
                product = self.store.get_product(resource_id)
                if product is not None:
                    return self.product(product)
        raise WooRestError(404, f"woocommerce_rest_{kind}_invalid_id", "Invalid ID.")


# Decimals (a line item's ``price``) must come out as JSON numbers without going through
# float. The C encoder writes them as a marker string carrying a per-process random token,
# which is then unquoted; client data cannot contain the token, so nothing else matches.
_TOKEN = uuid.uuid4().hex
_NUMBER = re.compile('"' + _TOKEN + r'(-?[0-9]+(?:\.[0-9]+)?)"')


def _default(value: Any) -> Any:
    if isinstance(value, Decimal) and value.is_finite():
        return f"{_TOKEN}{value:f}"
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def wp_json(value: Any) -> bytes:
    """Encode like ``wp_json_encode``: compact, ASCII-only, ``/`` escaped, ``Decimal`` as a
    JSON number."""
    text = json.dumps(
        value, ensure_ascii=True, separators=(",", ":"), default=_default, allow_nan=False
    )
    if _TOKEN in text:
        text = _NUMBER.sub(r"\1", text)
    return text.replace("/", "\\/").encode("ascii")
