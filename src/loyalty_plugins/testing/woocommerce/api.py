"""The REST semantics of the emulator: routes, permissions, parameters, paging, batches.

:class:`RestApi` knows nothing about sockets: it turns (method, path, query, headers, body)
into a status, a JSON-able body and headers, the way WooCommerce's ``wc/v3`` controllers
and the WordPress REST server do.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote

from .auth import Authenticator, parse_php_query
from .models import Coupon, Customer, Order, Product, Refund, Webhook, WooRestError
from .render import Renderer, filter_fields
from .store import ORDER_STATUSES, OrderQuery, WooStore
from .validation import QueryParams, page_args

__all__ = ["API_PREFIX", "ApiResponse", "RestApi"]

API_PREFIX = "/wp-json/wc/v3"
_PREFIX = API_PREFIX
_T = TypeVar("_T")


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # PHP's json_decode rejects NaN/Infinity too


@dataclass(slots=True)
class _Request:
    method: str
    route: str
    raw_path: str
    query: dict[str, Any]
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        if not self.body.strip():
            return {}
        try:
            value = json.loads(self.body, parse_float=Decimal, parse_constant=_no_constants)
        except (ValueError, UnicodeDecodeError):
            raise WooRestError(
                400,
                "rest_invalid_json",
                "Invalid JSON body passed.",
                {"json_error_code": 4, "json_error_message": "Syntax error"},
            ) from None
        if not isinstance(value, dict):
            raise WooRestError(400, "rest_invalid_json", "Invalid JSON body passed.")
        return value


@dataclass(slots=True)
class ApiResponse:
    """What a route answers: status, a JSON-able body (or raw bytes) and headers."""

    status: int
    body: Any
    headers: dict[str, str]


_Handler = Callable[[_Request, "re.Match[str]"], ApiResponse]


@dataclass(frozen=True, slots=True)
class _Route:
    methods: frozenset[str]
    pattern: re.Pattern[str]
    handler: _Handler
    action: str
    label: str


_DENIED = {
    "list": ("woocommerce_rest_cannot_view", "Sorry, you cannot list resources."),
    "view": ("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource."),
    "create": ("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."),
    "edit": ("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource."),
    "delete": (
        "woocommerce_rest_cannot_delete",
        "Sorry, you are not allowed to delete this resource.",
    ),
    "batch": (
        "woocommerce_rest_cannot_batch",
        "Sorry, you are not allowed to batch manipulate this resource.",
    ),
}
_EDITABLE = frozenset({"POST", "PUT", "PATCH"})


class RestApi:
    """WooCommerce ``wc/v3`` request handling over a :class:`WooStore`.

    Args:
        store: the shop data.
        auth: the credential checker.
        honour_customer_modified_after: filter ``GET /customers`` by ``modified_after``
            (core ignores that parameter).
        batch_limit: items allowed per batch request (core default 100).
    """

    def __init__(
        self,
        store: WooStore,
        auth: Authenticator,
        *,
        honour_customer_modified_after: bool = False,
        batch_limit: int = 100,
    ) -> None:
        self.store = store
        self.auth = auth
        self.honour_customer_modified_after = honour_customer_modified_after
        self.batch_limit = batch_limit
        self._routes = self._build_routes()

    # ------------------------------------------------------------------ dispatch
    def _build_routes(self) -> list[_Route]:
        table: list[tuple[str, str, _Handler, str]] = [
            ("GET", r"orders", self._orders_list, "list"),
            ("GET", r"orders/(?P<id>\d+)", self._order_get, "view"),
            ("EDIT", r"orders/(?P<id>\d+)", self._order_update, "edit"),
            ("DELETE", r"orders/(?P<id>\d+)", self._order_delete, "delete"),
            ("GET", r"orders/(?P<id>\d+)/refunds", self._order_refunds_list, "list"),
            ("POST", r"orders/(?P<id>\d+)/refunds", self._order_refund_create, "create"),
            ("GET", r"orders/(?P<id>\d+)/refunds/(?P<rid>\d+)", self._order_refund_get, "view"),
            ("GET", r"refunds", self._refunds_list, "list"),
            ("GET", r"customers", self._customers_list, "list"),
            ("POST", r"customers", self._customer_create, "create"),
            ("POST", r"customers/batch", self._customers_batch, "batch"),
            ("GET", r"customers/(?P<id>\d+)", self._customer_get, "view"),
            ("EDIT", r"customers/(?P<id>\d+)", self._customer_update, "edit"),
            ("DELETE", r"customers/(?P<id>\d+)", self._customer_delete, "delete"),
            ("GET", r"products", self._products_list, "list"),
            ("GET", r"products/categories", self._categories_list, "list"),
            ("GET", r"products/categories/(?P<id>\d+)", self._category_get, "view"),
            ("GET", r"products/(?P<id>\d+)", self._product_get, "view"),
            ("GET", r"coupons", self._coupons_list, "list"),
            ("POST", r"coupons", self._coupon_create, "create"),
            ("POST", r"coupons/batch", self._coupons_batch, "batch"),
            ("GET", r"coupons/(?P<id>\d+)", self._coupon_get, "view"),
            ("EDIT", r"coupons/(?P<id>\d+)", self._coupon_update, "edit"),
            ("DELETE", r"coupons/(?P<id>\d+)", self._coupon_delete, "delete"),
            ("GET", r"webhooks", self._webhooks_list, "list"),
            ("POST", r"webhooks", self._webhook_create, "create"),
            ("GET", r"webhooks/(?P<id>\d+)", self._webhook_get, "view"),
            ("EDIT", r"webhooks/(?P<id>\d+)", self._webhook_update, "edit"),
            ("DELETE", r"webhooks/(?P<id>\d+)", self._webhook_delete, "delete"),
        ]
        routes = []
        for method, pattern, handler, action in table:
            methods = _EDITABLE if method == "EDIT" else frozenset({method})
            label = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"<\1>", pattern)
            routes.append(
                _Route(methods, re.compile(f"^{pattern}$", re.IGNORECASE), handler, action, label)
            )
        return routes

    def handle(
        self,
        method: str,
        raw_path: str,
        query_string: str,
        headers: Mapping[str, str],
        body: bytes,
        host: str,
    ) -> tuple[ApiResponse, str | None]:
        """Authenticate, route and run one request; returns (response, route label).

        ``raw_path`` is the URL path as requested; ``host`` is the ``Host`` header, used for
        the OAuth base URL and for the links in responses.
        """
        query = parse_php_query(query_string)
        if not raw_path.startswith("/wp-json"):
            return ApiResponse(
                404,
                b"<html><body><h1>Not Found</h1></body></html>",
                {"Content-Type": "text/html; charset=UTF-8"},
            ), None
        site = f"http://{host}"
        # Core signs the path exactly as requested (trailing slash included).
        outcome = self.auth.authenticate(method, site + raw_path, query, headers)
        raw_path = raw_path.rstrip("/") or "/"
        route_part = (
            raw_path[len(_PREFIX) :].strip("/") if raw_path.lower().startswith(_PREFIX) else None
        )
        matched: tuple[_Route, re.Match[str]] | None = None
        if route_part is not None:
            for route in self._routes:
                match = route.pattern.match(route_part)
                if match and ("GET" if method == "HEAD" else method) in route.methods:
                    matched = (route, match)
                    break
        label = None
        try:
            if outcome.error is not None:
                raise outcome.error
            if matched is None:
                raise WooRestError(
                    404, "rest_no_route", "No route was found matching the URL and request method"
                )
            route, match = matched
            label = f"{method} {route.label}"
            if outcome.key is None:
                code, message = _DENIED[route.action]
                raise WooRestError(401, code, message)
            denied = self.auth.permission_error(outcome.key, method)
            if denied is not None:
                raise denied
            request = _Request(method, route_part or "", raw_path, query, headers, body)
            response = route.handler(request, match)
            fields = query.get("_fields")
            if isinstance(fields, str) and fields and response.status < 300:
                names = [f.strip() for f in fields.split(",")]
                if isinstance(response.body, list):
                    response.body = [filter_fields(o, names) for o in response.body]
                elif isinstance(response.body, dict):
                    response.body = filter_fields(response.body, names)
            return response, label
        except WooRestError as error:
            return ApiResponse(error.status, error.envelope(), dict(error.headers)), label

    # ------------------------------------------------------------------ helpers
    def _render(self, req: _Request) -> Renderer:
        host = req.headers.get("Host") or "127.0.0.1"
        return Renderer(self.store, f"http://{host}")

    def _paged(
        self,
        req: _Request,
        items: Sequence[_T],
        render: Callable[[_T], dict[str, Any]],
        page: int,
        per_page: int,
        offset: int | None,
    ) -> ApiResponse:
        total = len(items)
        pages = math.ceil(total / per_page) if total else 0
        start = offset if offset is not None else (page - 1) * per_page
        body = [render(item) for item in items[start : start + per_page]]
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
        links = []
        base = self._render(req).api + "/" + req.route
        if page > 1:
            links.append(
                f'<{self._page_url(base, req.query, min(page - 1, max(pages, 1)))}>; rel="prev"'
            )
        if pages > page:
            links.append(f'<{self._page_url(base, req.query, page + 1)}>; rel="next"')
        if links:
            headers["Link"] = ", ".join(links)
        return ApiResponse(200, body, headers)

    @staticmethod
    def _page_url(base: str, query: Mapping[str, Any], page: int) -> str:
        parts: list[str] = []
        seen_page = False
        for key, value in query.items():
            if key == "page":
                parts.append(f"page={page}")
                seen_page = True
            elif isinstance(value, list):
                parts.extend(
                    f"{key}%5B{i}%5D={quote(str(v), safe=':,')}" for i, v in enumerate(value)
                )
            elif isinstance(value, dict):
                parts.extend(
                    f"{key}%5B{quote(str(k))}%5D={quote(str(v), safe=':,')}"
                    for k, v in value.items()
                )
            else:
                parts.append(f"{quote(key)}={quote(str(value), safe=':,')}")
        if not seen_page:
            parts.append(f"page={page}")
        return f"{base}?{'&'.join(parts)}"

    def _convert_date(self, value: datetime | None, gmt: bool) -> datetime | None:
        if value is None or value.tzinfo is None:
            return value
        target = UTC if gmt else self.store.timezone
        return value.astimezone(target).replace(tzinfo=None)

    def _id(self, match: re.Match[str], name: str = "id") -> int:
        return int(match.group(name))

    def _batch(
        self,
        req: _Request,
        create: Callable[[dict[str, Any]], dict[str, Any]],
        update: Callable[[dict[str, Any]], dict[str, Any]],
        delete: Callable[[int], dict[str, Any]],
    ) -> ApiResponse:
        body = req.json()
        total = sum(
            len(body[k]) for k in ("create", "update", "delete") if isinstance(body.get(k), list)
        )
        if total > self.batch_limit:
            raise WooRestError(
                413,
                "woocommerce_rest_request_entity_too_large",
                f"Unable to accept more than {self.batch_limit} items for this request.",
            )
        result: dict[str, list[dict[str, Any]]] = {}
        for kind in ("create", "update", "delete"):
            items = body.get(kind)
            if not items or not isinstance(items, list):
                continue
            out: list[dict[str, Any]] = []
            for item in items:
                item_id: Any = 0
                try:
                    if kind == "delete":
                        item_id = int(item["id"] if isinstance(item, dict) else item)
                        out.append(delete(item_id))
                    elif not isinstance(item, dict):
                        raise WooRestError(400, "rest_invalid_param", "Invalid item.")
                    elif kind == "create":
                        out.append(create(item))
                    else:
                        item_id = item.get("id", 0)
                        out.append(update(item))
                except (WooRestError, ValueError, TypeError, KeyError) as exc:
                    error = (
                        exc
                        if isinstance(exc, WooRestError)
                        else WooRestError(400, "rest_invalid_param", "Invalid parameter(s): id")
                    )
                    out.append({"id": item_id, "error": error.envelope()})
            result[kind] = out
        return ApiResponse(200, result, {})

    # ------------------------------------------------------------------ orders
    def _order_query(self, p: QueryParams) -> OrderQuery:
        gmt = p.boolean("dates_are_gmt", False)
        return OrderQuery(
            statuses=p.enum_list("status", ["any"], ("any", "trash", *ORDER_STATUSES)),
            customer=p.integer("customer", None),
            after=self._convert_date(p.date("after"), gmt),
            before=self._convert_date(p.date("before"), gmt),
            modified_after=self._convert_date(p.date("modified_after"), gmt),
            modified_before=self._convert_date(p.date("modified_before"), gmt),
            dates_are_gmt=gmt,
            include=p.id_list("include"),
            exclude=p.id_list("exclude"),
            parent=p.id_list("parent"),
            product=p.integer("product", None),
            search=p.text("search") or "",
            orderby=p.enum(
                "orderby", "date", ("date", "id", "include", "title", "slug", "modified")
            ),
            order=p.enum("order", "desc", ("asc", "desc")),
        )

    def _orders_list(self, req: _Request, match: re.Match[str]) -> ApiResponse:
        p = QueryParams(req.query)
        page, per_page, offset = page_args(p)
        query = self._order_query(p)
        p.check()
        renderer = self._render(req)
        with self.store.lock:
            items = self.store.query_orders(query)
            return self._paged(req, items, renderer.order, page, per_page, offset)

    def _get_order(self, order_id: int) -> Order:
        order = self.store.get_order(order_id)
        if order is None:
            raise WooRestError(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        return order

    def _order_get(self, req: _Request, match: re.Match[str]) -> ApiResponse:
        with self.store.lock:
            return ApiResponse(200, self._render(req).order(self._get_order(self._id(match))), {})

    def _order_update(self, req: _Request, match: re.Match[str]) -> ApiResponse:
        body = req.json()
        with self.store.lock:
            order = self.store.update_order(self._id(match), body)
            return ApiResponse(200, self._render(req).order(order), {})

    def _order_delete(self, req: _Request, match: re.Match[str]) -> ApiResponse:
        p = QueryParams(req.query)
        force = p.boolean("force", False)
        p.check()
        with self.store.lock:
            order = self._get_order(self._id(match))
            before = self._render(req).order(order)
            order = self.store.delete_order(order.id, force=force)
            return ApiResponse(200, before if force else self._render(req).order(order), {})

    def _refund_list_args(
        self, p: QueryParams
    ) -> tuple[str, str, datetime | None, datetime | None]:
        gmt = p.boolean("dates_are_gmt", False)
        order = p.enum("order", "desc", ("asc", "desc"))
        orderby = p.enum("orderby", "date", ("date", "id", "include", "title", "slug", "modified"))
        after = self._convert_date(p.date("after"), gmt)
        before = self._convert_date(p.date("before"), gmt)
        return order, orderby, after, before

    @staticmethod
    def _filter_refunds(
        refunds: Sequence[Refund],
        order: str,
        orderby: str,
        after: datetime | None,
        before: datetime | None,
        gmt: bool,
    ) -> list[Refund]:
        def when(r: Refund) -> datetime:
            return r.date_created.gmt if gmt else r.date_created.local

        out = [
            r
            for r in refunds
            if (after is None or when(r) > after) and (before is None or when(r) < before)
        ]
        if orderby == "id":
            out.sort(key=lambda r: r.id)
        else:
            out.sort(key=lambda r: (r.date_created.local, r.id))
        if order == "desc":
            out.reverse()
        return out

    def _order_refunds_list(self, req: _Request, match: re.Match[str]) -> ApiResponse:
        p = QueryParams(req.query)
        page, per_page, offset = page_args(p)
        gmt = p.boolean("dates_are_gmt", False)
        order, orderby, after, before = self._refund_list_args(p)
        p.check()
        renderer = self._render(req)
        with self.store.lock:
            parent = self.store.get_order(self._id(match))
            refunds = self._filter_refunds(
                parent.refunds if parent else [], order, orderby, after, before, gmt
            )
            return self._paged(req, refunds, renderer.refund, page, per_page, offset)

    def _order_refund_get(self, req: _Request, match: re.Match[str]) -> ApiResponse:
        with self.store.lock:
            refund = self.store.get_refund(self._id(match, "rid"))
            if refund is None:
                raise WooRestError(
                    404, "woocommerce_rest_shop_order_refund_invalid_id", "Invalid ID."
                )
            if self.store.get_order(self._id(match)) is None:
                raise WooRestError(404, "woocommerce_rest_invalid_order_id", "Invalid order ID.")
            if refund.order_id != self._id(match):
                raise WooRestError(
                    404, "woocommerce_rest_invalid_order_refund_id", "Invalid order refund ID."
                )
            return ApiResponse(200, self._render(req).refund(refund), {})

    def _order_refund_create(self, req: _Request, match: re.Match[str]) -> ApiResponse:
        body = req.json()
        items: dict[int, int] = {}
        for entry in body.get("line_items") or []:
            if isinstance(entry, dict) and entry.get("id"):
                items[int(entry["id"])] = int(entry.get("quantity") or 1)
        amount = body.get("amount")
        if amount is not None and not isinstance(amount, str):
            raise WooRestError(
                400,
                "rest_invalid_param",
                "Invalid parameter(s): amount",
                {"params": {"amount": "amount is not of type string."}},
            )
        with self.store.lock:
            refund = self.store.refund_order(
                self._id(match),
                amount=amount,
                reason=str(body.get("reason") or ""),
                line_items=items or None,
                api_refund=bool(body.get("api_refund", True)),
            )
            return ApiResponse(201, self._render(req).refund(refund), {})

    def _refunds_list(self, req: _Request, match: re.Match[str]) -> ApiResponse:
        p = QueryParams(req.query)
        page, per_page, offset = page_args(p)
        gmt = p.boolean("dates_are_gmt", False)
        order, orderby, after, before = self._refund_list_args(p)
        parents = set(p.id_list("parent"))
        p.check()
        renderer = self._render(req)
        with self.store.lock:
            refunds = [r for r in self.store.refunds() if not parents or r.order_id in parents]
            refunds = self._filter_refunds(refunds, order, orderby, after, before, gmt)
            return self._paged(
                req,
                refunds,
                lambda r: renderer.refund(r, with_parent=True),
                page,
                per_page,
                offset,
            )

    # ------------------------------------------------------------------ customers
    def _customers_list(self, req: _Request, match: re.Match[str]) -> ApiResponse:
        p = QueryParams(req.query)
        page, per_page, offset = page_args(p)
        order = p.enum("order", "asc", ("asc", "desc"))
        orderby = p.enum("orderby", "name", ("id", "include", "name", "registered_date"))
        role = p.enum(
            "role", "customer", ("all", "administrator", "customer", "shop_manager", "subscriber")
        )
        email = p.text("email")
        search = (p.text("search") or "").lower()
        include, exclude = p.id_list("include"), p.id_list("exclude")
        modified_after = None
        if self.honour_customer_modified_after:
            modified_after = self._convert_date(p.date("modified_after"), True)
        p.check()
        renderer = self._render(req)
        with self.store.lock:
            items = [
                c
                for c in self.store.customers(role)
                if (email is None or c.email == email.strip().lower())
                and (not include or c.id in include)
                and (c.id not in exclude)
                and (
                    not search
                    or search in f"{c.email} {c.username} {c.first_name} {c.last_name}".lower()
                )
                and (modified_after is None or c.date_modified.gmt > modified_after)
            ]
            keys: dict[str, Callable[[Customer], Any]] = {
                "id": lambda c: c.id,
                "name": lambda c: (c.username, c.id),
                "registered_date": lambda c: (c.date_created.gmt, c.id),
            }
            if orderby == "include" and include:
                items.sort(key=lambda c: include.index(c.id))
            else:
                items.sort(key=keys.get(orderby, keys["id"]))
            if order == "desc":
                items.reverse()
            return self._paged(req, items, renderer.customer, page, per_page, offset)

    def _get_customer(self, customer_id: int) -> Customer:
        customer = self.store.get_customer(customer_id)
        if customer is None:
            raise WooRestError(404, "woocommerce_rest_invalid_id", "Invalid resource ID.")
        return customer

    def _customer_get(self, req: _Request, match: re.Match[str]) -> ApiResponse:
        with self.store.lock:
            return ApiResponse(
                200, self._render(req).customer(self._get_customer(self._id(match))), {}
            )

    def _customer_update(self, req: _Request, match: re.Match[str]) -> ApiResponse:
        body = req.json()
        with self.store.lock:
            customer = self.store.update_customer(self._id(match), body)
            return ApiResponse(200, self._render(req).customer(customer), {})

    def _create_customer(self, req: _Request, body: Mapping[str, Any]) -> dict[str, Any]:
        email = body.get("email")
        if not isinstance(email, str) or not email:
            raise WooRestError(
                400,
                "rest_missing_callback_param",
                "Missing parameter(s): email",
                {"params": ["email"]},
            )
        with self.store.lock:
            customer = self.store.create_customer(
                email,
                str(body.get("first_name") or ""),
                str(body.get("last_name") or ""),
                username=body.get("username") if isinstance(body.get("username"), str) else None,
            )
            rest = {k: v for k, v in body.items() if k in ("billing", "shipping", "meta_data")}
            if rest:
                customer = self.store.update_customer(customer.id, rest)
            return self._render(req).customer(customer)

    def _customer_create(self, req: _Request, match: re.Match[str]) -> ApiResponse:
        return ApiResponse(201, self._create_customer(req, req.json()), {})

    def _customer_delete(self, req: _Request, match: re.Match[str]) -> ApiResponse:
        p = QueryParams(req.query)
        force = p.boolean("force", False)
        p.check()
        if not force:
            raise WooRestError(
                501, "woocommerce_rest_trash_not_supported", "Customers do not support trashing."
            )
        with self.store.lock:
            customer = self._get_customer(self._id(match))
            body = self._render(req).customer(customer)
            self.store.delete_customer(customer.id)
            return ApiResponse(200, body, {})

    def _customers_batch(self, req: _Request, match: re.Match[str]) -> ApiResponse:
        def update(item: dict[str, Any]) -> dict[str, Any]:
            with self.store.lock:
                customer = self.store.update_customer(int(item.get("id") or 0), item)
                return self._render(req).customer(customer)

        def delete(customer_id: int) -> dict[str, Any]:
            with self.store.lock:
                body = self._render(req).customer(self._get_customer(customer_id))
                self.store.delete_customer(customer_id)
                return body

        return self._batch(req, lambda item: self._create_customer(req, item), update, delete)

    # ------------------------------------------------------------------ catalogue
    def _products_list(self, req: _Request, match: re.Match[str]) -> ApiResponse:
        p = QueryParams(req.query)
        page, per_page, offset = page_args(p)
        order = p.enum("order", "desc", ("asc", "desc"))
        orderby = p.enum(
            "orderby",
            "date",
            ("date", "id", "include", "title", "slug", "price", "popularity", "rating", "modified"),
        )
        category = p.integer("category", None)
        sku = p.text("sku")
        search = (p.text("search") or "").lower()
        include = p.id_list("include")
        ptype = p.text("type")
        p.check()
        renderer = self._render(req)
        with self.store.lock:
            items = [
                x
                for x in self.store.products()
                if (category is None or category in x.categories)
                and (sku is None or x.sku == sku)
                and (not search or search in x.name.lower())
                and (not include or x.id in include)
                and (ptype is None or x.type == ptype)
            ]
            keys: dict[str, Callable[[Product], Any]] = {
                "id": lambda x: x.id,
                "title": lambda x: (x.name, x.id),
                "slug": lambda x: (x.slug, x.id),
                "price": lambda x: (x.regular_price, x.id),
                "popularity": lambda x: (x.total_sales, x.id),
                "modified": lambda x: (x.date_modified.local, x.id),
            }
            items.sort(key=keys.get(orderby, lambda x: (x.date_created.local, x.id)))
            if order == "desc":
                items.reverse()
            return self._paged(req, items, renderer.product, page, per_page, offset)

    def _product_get(self, req: _Request, match: re.Match[str]) -> ApiResponse:
        with self.store.lock:
            product = self.store.get_product(self._id(match))
            if product is None or product.parent_id:
                raise WooRestError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
            return ApiResponse(200, self._render(req).product(product), {})

    def _categories_list(self, req: _Request, match: re.Match[str]) -> ApiResponse:
        p = QueryParams(req.query)
        page, per_page, offset = page_args(p)
        order = p.enum("order", "asc", ("asc", "desc"))
        orderby = p.enum(
            "orderby",
            "name",
            ("id", "include", "name", "slug", "term_group", "description", "count"),
        )
        hide_empty = p.boolean("hide_empty", False)
        parent = p.integer("parent", None)
        product_id = p.integer("product", None)
        slug = p.text("slug")
        p.check()
        renderer = self._render(req)
        with self.store.lock:
            product = self.store.get_product(product_id) if product_id is not None else None
            items = [
                c
                for c in self.store.categories()
                if (not hide_empty or c.count > 0)
                and (parent is None or c.parent == parent)
                and (slug is None or c.slug == slug)
                and (product_id is None or (product is not None and c.id in product.categories))
            ]
            sort_keys: dict[str, Callable[[Any], Any]] = {
                "id": lambda c: c.id,
                "slug": lambda c: c.slug,
                "count": lambda c: (c.count, c.id),
                "description": lambda c: (c.description, c.id),
            }
            items.sort(key=sort_keys.get(orderby, lambda c: (c.name.lower(), c.id)))
            if order == "desc":
                items.reverse()
            return self._paged(req, items, renderer.category, page, per_page, offset)

    def _category_get(self, req: _Request, match: re.Match[str]) -> ApiResponse:
        with self.store.lock:
            category = self.store.get_category(self._id(match))
            if category is None:
                raise WooRestError(404, "woocommerce_rest_term_invalid", "Resource doesn't exist.")
            return ApiResponse(200, self._render(req).category(category), {})

    # ------------------------------------------------------------------ coupons
    def _coupons_list(self, req: _Request, match: re.Match[str]) -> ApiResponse:
        p = QueryParams(req.query)
        page, per_page, offset = page_args(p)
        order = p.enum("order", "desc", ("asc", "desc"))
        orderby = p.enum("orderby", "date", ("date", "id", "include", "title", "slug", "modified"))
        code = p.text("code")
        search = (p.text("search") or "").lower()
        gmt = p.boolean("dates_are_gmt", False)
        modified_after = self._convert_date(p.date("modified_after"), gmt)
        after = self._convert_date(p.date("after"), gmt)
        include, exclude = p.id_list("include"), p.id_list("exclude")
        p.check()
        renderer = self._render(req)

        def modified(c: Coupon) -> datetime:
            return c.date_modified.gmt if gmt else c.date_modified.local

        def created(c: Coupon) -> datetime:
            return c.date_created.gmt if gmt else c.date_created.local

        with self.store.lock:
            items = [
                c
                for c in self.store.coupons()
                if (code is None or c.code == code.strip().lower())
                and (not search or search in c.code)
                and (not include or c.id in include)
                and c.id not in exclude
                and (modified_after is None or modified(c) > modified_after)
                and (after is None or created(c) > after)
            ]
            keys: dict[str, Callable[[Coupon], Any]] = {
                "id": lambda c: c.id,
                "title": lambda c: (c.code, c.id),
                "slug": lambda c: (c.code, c.id),
                "modified": lambda c: (c.date_modified.local, c.id),
            }
            items.sort(key=keys.get(orderby, lambda c: (c.date_created.local, c.id)))
            if order == "desc":
                items.reverse()
            return self._paged(req, items, renderer.coupon, page, per_page, offset)

    def _coupon_get(self, req: _Request, match: re.Match[str]) -> ApiResponse:
        with self.store.lock:
            coupon = self.store.get_coupon(self._id(match))
            if coupon is None:
                raise WooRestError(404, "woocommerce_rest_shop_coupon_invalid_id", "Invalid ID.")
            return ApiResponse(200, self._render(req).coupon(coupon), {})

    def _coupon_create(self, req: _Request, match: re.Match[str]) -> ApiResponse:
        body = req.json()
        with self.store.lock:
            return ApiResponse(201, self._render(req).coupon(self.store.create_coupon(body)), {})

    def _coupon_update(self, req: _Request, match: re.Match[str]) -> ApiResponse:
        body = req.json()
        with self.store.lock:
            coupon = self.store.update_coupon(self._id(match), body)
            return ApiResponse(200, self._render(req).coupon(coupon), {})

    def _coupon_delete(self, req: _Request, match: re.Match[str]) -> ApiResponse:
        p = QueryParams(req.query)
        force = p.boolean("force", False)
        p.check()
        with self.store.lock:
            coupon = self.store.delete_coupon(self._id(match), force=force)
            return ApiResponse(200, self._render(req).coupon(coupon), {})

    def _coupons_batch(self, req: _Request, match: re.Match[str]) -> ApiResponse:
        def create(item: dict[str, Any]) -> dict[str, Any]:
            with self.store.lock:
                return self._render(req).coupon(self.store.create_coupon(item))

        def update(item: dict[str, Any]) -> dict[str, Any]:
            with self.store.lock:
                coupon_id = int(item.get("id") or 0)
                return self._render(req).coupon(self.store.update_coupon(coupon_id, item))

        def delete(coupon_id: int) -> dict[str, Any]:
            with self.store.lock:
                coupon = self.store.delete_coupon(coupon_id, force=True)
                return self._render(req).coupon(coupon)

        return self._batch(req, create, update, delete)

    # ------------------------------------------------------------------ webhooks
    def _webhooks_list(self, req: _Request, match: re.Match[str]) -> ApiResponse:
        p = QueryParams(req.query)
        page, per_page, offset = page_args(p)
        order = p.enum("order", "desc", ("asc", "desc"))
        orderby = p.enum("orderby", "date", ("date", "id", "title"))
        status = p.enum("status", "all", ("all", "active", "paused", "disabled"))
        p.check()
        renderer = self._render(req)
        with self.store.lock:
            items = [w for w in self.store.webhooks() if status in ("all", w.status)]
            keys: dict[str, Callable[[Webhook], Any]] = {
                "id": lambda w: w.id,
                "title": lambda w: (w.name, w.id),
            }
            items.sort(key=keys.get(orderby, lambda w: (w.date_created.local, w.id)))
            if order == "desc":
                items.reverse()
            return self._paged(req, items, renderer.webhook, page, per_page, offset)

    def _get_webhook(self, webhook_id: int) -> Webhook:
        webhook = self.store.get_webhook(webhook_id)
        if webhook is None:
            raise WooRestError(404, "woocommerce_rest_shop_webhook_invalid_id", "Invalid ID.")
        return webhook

    def _webhook_get(self, req: _Request, match: re.Match[str]) -> ApiResponse:
        with self.store.lock:
            return ApiResponse(
                200, self._render(req).webhook(self._get_webhook(self._id(match))), {}
            )

    def _webhook_create(self, req: _Request, match: re.Match[str]) -> ApiResponse:
        body = req.json()
        with self.store.lock:
            webhook = self.store.create_webhook(body)
            return ApiResponse(201, self._render(req).webhook(webhook), {})

    def _webhook_update(self, req: _Request, match: re.Match[str]) -> ApiResponse:
        body = req.json()
        with self.store.lock:
            webhook = self.store.update_webhook(self._id(match), body)
            return ApiResponse(200, self._render(req).webhook(webhook), {})

    def _webhook_delete(self, req: _Request, match: re.Match[str]) -> ApiResponse:
        p = QueryParams(req.query)
        force = p.boolean("force", False)
        p.check()
        if not force:
            raise WooRestError(
                501, "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing."
            )
        with self.store.lock:
            body = self._render(req).webhook(self._get_webhook(self._id(match)))
            self.store.delete_webhook(self._id(match))
            return ApiResponse(200, body, {})
