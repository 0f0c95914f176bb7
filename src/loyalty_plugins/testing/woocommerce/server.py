"""``WooCommerceEmulator``: a real HTTP server speaking WooCommerce REST ``wc/v3``.

::

    store = generate_store(500, seed=1)
    with WooCommerceEmulator(store, port=0) as emu:
        api = API(url=emu.url, consumer_key=emu.consumer_key,
                  consumer_secret=emu.consumer_secret, version="wc/v3", timeout=5)
        api.get("orders", params={"per_page": 100}).headers["X-WP-TotalPages"]

It serves on 127.0.0.1 from a background thread (stdlib ``ThreadingHTTPServer``, HTTP/1.1
keep-alive), authenticates like core (see :mod:`.auth`), validates query parameters like
the WordPress REST server (``rest_invalid_param`` envelopes), pages with ``X-WP-Total``,
``X-WP-TotalPages`` and ``Link`` headers, and injects faults from :class:`EmulatorFaults`.
"""

from __future__ import annotations

import contextlib
import json
import math
import queue
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

from .auth import ApiKey, Authenticator, parse_php_query
from .faults import EmulatorFaults, FaultResponse
from .models import Coupon, Customer, Order, Product, Refund, Webhook, WooRestError
from .render import Renderer, filter_fields, wp_json
from .store import ORDER_STATUSES, OrderQuery, WooStore, parse_wp_date
from .webhooks import DeliveryResult, WebhookDelivery, build_delivery, send_deliveries, send_ping

__all__ = ["DEFAULT_CONSUMER_KEY", "DEFAULT_CONSUMER_SECRET", "RequestStats", "WooCommerceEmulator"]

DEFAULT_CONSUMER_KEY = "ck_4f1c2b9e8d7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c"
DEFAULT_CONSUMER_SECRET = "cs_9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b"  # noqa: S105 - test key
_PREFIX = "/wp-json/wc/v3"
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class RequestStats:
    """A snapshot of the request counters."""

    total: int
    by_path: dict[str, int]
    by_route: dict[str, int]
    by_status: dict[int, int]


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
            value = json.loads(self.body, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError) as exc:
            raise WooRestError(
                400,
                "rest_invalid_json",
                "Invalid JSON body passed.",
                {"json_error_code": 4, "json_error_message": f"Syntax error ({exc})"},
            ) from None
        if not isinstance(value, dict):
            raise WooRestError(400, "rest_invalid_json", "Invalid JSON body passed.")
        return value


@dataclass(slots=True)
class _Response:
    status: int
    body: Any
    headers: dict[str, str]


_Handler = Callable[[_Request, "re.Match[str]"], _Response]


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


def _wp_list(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2:
        return f"{items[0]} and {items[1]}"
    return ", ".join(items[:-1]) + f", and {items[-1]}"


class _Params:
    """Query-parameter validation with WordPress' messages (``rest_invalid_param``)."""

    def __init__(self, query: Mapping[str, Any]) -> None:
        self.query = query
        self.errors: dict[str, tuple[str, str]] = {}

    def _fail(self, name: str, message: str, code: str) -> None:
        self.errors.setdefault(name, (message, code))

    def _scalar(self, name: str) -> str | None:
        value = self.query.get(name)
        if value is None:
            return None
        if isinstance(value, list | dict):
            self._fail(name, f"{name} is not of type {self._type_hint(name)}.", "rest_invalid_type")
            return None
        return str(value)

    @staticmethod
    def _type_hint(name: str) -> str:
        return "integer" if name in {"page", "per_page", "offset", "customer"} else "string"

    def integer(
        self,
        name: str,
        default: int | None,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        raw = self._scalar(name)
        if raw is None:
            return default
        if not re.fullmatch(r"\s*-?\d+\s*", raw):
            self._fail(name, f"{name} is not of type integer.", "rest_invalid_type")
            return default
        value = int(raw)
        if minimum is not None and maximum is not None and not minimum <= value <= maximum:
            self._fail(
                name,
                f"{name} must be between {minimum} (inclusive) and {maximum} (inclusive)",
                "rest_out_of_bounds",
            )
            return default
        if minimum is not None and value < minimum:
            self._fail(
                name, f"{name} must be greater than or equal to {minimum}", "rest_out_of_bounds"
            )
            return default
        return abs(value)

    def enum(self, name: str, default: str, choices: Sequence[str]) -> str:
        raw = self._scalar(name)
        if raw is None:
            return default
        if raw not in choices:
            self._fail(name, f"{name} is not one of {_wp_list(choices)}.", "rest_not_in_enum")
            return default
        return raw

    def boolean(self, name: str, default: bool) -> bool:
        raw = self._scalar(name)
        if raw is None:
            return default
        lowered = raw.lower()
        if lowered in ("1", "true"):
            return True
        if lowered in ("0", "false", ""):
            return False
        self._fail(name, f"{name} is not of type boolean.", "rest_invalid_type")
        return default

    def date(self, name: str) -> datetime | None:
        raw = self._scalar(name)
        if raw is None:
            return None
        parsed = parse_wp_date(raw)
        if parsed is None or ("T" not in raw.upper() and " " not in raw):
            self._fail(name, "Invalid date.", "rest_invalid_date")
            return None
        return parsed

    def text(self, name: str) -> str | None:
        return self._scalar(name)

    def _items(self, name: str) -> list[str]:
        value = self.query.get(name)
        if value is None:
            return []
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, list):
            return [str(v) for v in value]
        return [v.strip() for v in str(value).split(",") if v.strip()]

    def id_list(self, name: str) -> tuple[int, ...]:
        out: list[int] = []
        for item in self._items(name):
            if re.fullmatch(r"-?\d+", item):
                out.append(abs(int(item)))
        return tuple(out)

    def enum_list(
        self, name: str, default: Sequence[str], choices: Sequence[str]
    ) -> tuple[str, ...]:
        items = self._items(name)
        if not items:
            return tuple(default)
        for i, item in enumerate(items):
            if item not in choices:
                self._fail(
                    name, f"{name}[{i}] is not one of {_wp_list(choices)}.", "rest_not_in_enum"
                )
                return tuple(default)
        return tuple(items)

    def check(self) -> None:
        if not self.errors:
            return
        names = list(self.errors)
        raise WooRestError(
            400,
            "rest_invalid_param",
            f"Invalid parameter(s): {', '.join(names)}",
            {
                "params": {n: self.errors[n][0] for n in names},
                "details": {
                    n: {"code": self.errors[n][1], "message": self.errors[n][0], "data": None}
                    for n in names
                },
            },
        )


def _page_args(p: _Params) -> tuple[int, int, int | None]:
    page = p.integer("page", 1, minimum=1)
    per_page = p.integer("per_page", 10, 1, 100)
    offset = p.integer("offset", None)
    assert page is not None and per_page is not None
    return page, per_page, offset


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class WooCommerceEmulator:
    """A WooCommerce ``wc/v3`` REST server on 127.0.0.1, backed by a :class:`WooStore`.

    Args:
        store: the shop data (default: a small generated shop of 100 orders).
        host: interface to bind (keep the default: 127.0.0.1).
        port: TCP port; 0 picks a free one (see :attr:`url`).
        consumer_key: key accepted via Basic auth, query string or OAuth 1.0a.
        consumer_secret: its secret.
        permissions: ``read``, ``write`` or ``read_write`` for that key.
        faults: fault knobs (default: none).
        check_oauth_timestamp: enforce core's 15-minute OAuth timestamp window.
        honour_customer_modified_after: filter ``GET /customers`` by ``modified_after``.
            Core documents no such parameter and ignores it, so the default is False.
        auto_webhooks: deliver registered webhooks (``POST /webhooks``) from a background
            thread whenever the store changes, like Action Scheduler would.
        batch_limit: items allowed per batch request (core default 100).
    """

    def __init__(
        self,
        store: WooStore | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        consumer_key: str = DEFAULT_CONSUMER_KEY,
        consumer_secret: str = DEFAULT_CONSUMER_SECRET,
        permissions: str = "read_write",
        faults: EmulatorFaults | None = None,
        check_oauth_timestamp: bool = True,
        honour_customer_modified_after: bool = False,
        auto_webhooks: bool = False,
        batch_limit: int = 100,
    ) -> None:
        if store is None:
            from .generator import generate_store

            store = generate_store(100, seed=0)
        self.store = store
        self.host = host
        self.port = port
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.faults = faults or EmulatorFaults()
        self.auth = Authenticator(
            [ApiKey(consumer_key, consumer_secret, permissions)],
            check_timestamp=check_oauth_timestamp,
        )
        self.honour_customer_modified_after = honour_customer_modified_after
        self.auto_webhooks = auto_webhooks
        self.batch_limit = batch_limit
        self.webhook_log: list[DeliveryResult] = []
        self._stats_lock = threading.Lock()
        self._total = 0
        self._by_path: dict[str, int] = {}
        self._by_route: dict[str, int] = {}
        self._by_status: dict[int, int] = {}
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        self._hook_queue: queue.Queue[tuple[str, int] | None] = queue.Queue()
        self._hook_thread: threading.Thread | None = None
        self._routes = self._build_routes()

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        """Site URL, e.g. ``http://127.0.0.1:54321`` (pass it to ``woocommerce.API``)."""
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() first")
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """``<url>/wp-json/wc/v3``."""
        return self.url + _PREFIX

    @property
    def running(self) -> bool:
        """Whether the server thread is serving."""
        return self._server is not None

    def start(self) -> WooCommerceEmulator:
        """Bind and serve from a daemon thread; returns self."""
        if self._server is not None:
            return self
        handler = type("WooHandler", (_RequestHandler,), {"emulator": self})
        server = _HTTPServer((self.host, self.port), handler)
        self.port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"woo-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        self.store.subscribe(self._on_store_event)
        self._hook_thread = threading.Thread(
            target=self._hook_worker, name=f"woo-webhooks-{self.port}", daemon=True
        )
        self._hook_thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop open keep-alive connections."""
        server, self._server = self._server, None
        if server is None:
            return
        self.store.unsubscribe(self._on_store_event)
        server.shutdown()
        server.server_close()
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._hook_queue.put(None)
        if self._hook_thread is not None:
            self._hook_thread.join(timeout=5)

    def __enter__(self) -> WooCommerceEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self, stop: threading.Event | None = None) -> None:
        """Start and block until ``stop`` is set (or Ctrl-C)."""
        self.start()
        try:
            (stop or threading.Event()).wait()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._conn_lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    # ------------------------------------------------------------------ stats
    def _count(self, path: str, route: str | None, status: int) -> None:
        with self._stats_lock:
            self._total += 1
            self._by_path[path] = self._by_path.get(path, 0) + 1
            if route is not None:
                self._by_route[route] = self._by_route.get(route, 0) + 1
            self._by_status[status] = self._by_status.get(status, 0) + 1

    @property
    def request_count(self) -> int:
        """Requests answered so far (all paths, all statuses)."""
        with self._stats_lock:
            return self._total

    @property
    def stats(self) -> RequestStats:
        """Counters by path (``/wp-json/wc/v3/orders``), route (``GET orders``) and status."""
        with self._stats_lock:
            return RequestStats(
                self._total, dict(self._by_path), dict(self._by_route), dict(self._by_status)
            )

    def requests_to(self, path: str) -> int:
        """Requests to one path; relative paths are taken under ``/wp-json/wc/v3/``."""
        if not path.startswith("/"):
            path = f"{_PREFIX}/{path}"
        with self._stats_lock:
            return self._by_path.get(path.rstrip("/"), 0)

    def reset_stats(self) -> None:
        """Zero all counters."""
        with self._stats_lock:
            self._total = 0
            self._by_path.clear()
            self._by_route.clear()
            self._by_status.clear()

    # ------------------------------------------------------------------ shopper actions
    def redeem_coupon(self, code: str, email: str) -> dict[str, Any]:
        """A shopper uses ``code`` (see :meth:`WooStore.redeem_coupon`); returns the coupon."""
        coupon = self.store.redeem_coupon(code, email)
        with self.store.lock:
            return self._renderer().coupon(coupon)

    def api_client(self, **kwargs: Any) -> Any:
        """A ``woocommerce.API`` client for this emulator (OAuth 1.0a, since it is http)."""
        from woocommerce import API

        options: dict[str, Any] = {"version": "wc/v3", "timeout": 5}
        options.update(kwargs)
        return API(
            url=self.url,
            consumer_key=self.consumer_key,
            consumer_secret=self.consumer_secret,
            **options,
        )

    # ------------------------------------------------------------------ webhooks
    def _renderer(self, site_url: str | None = None) -> Renderer:
        return Renderer(self.store, site_url or (self.url if self.running else "http://127.0.0.1"))

    def _payload(self, topic: str, resource: Mapping[str, Any] | int) -> Mapping[str, Any]:
        if not isinstance(resource, int):
            return resource
        kind, _, event = topic.partition(".")
        if event == "deleted":
            return {"id": resource}
        return self._renderer().resource(kind, resource)

    def build_webhook_delivery(
        self,
        delivery_url: str,
        topic: str,
        resource: Mapping[str, Any] | int | bytes,
        secret: str,
        *,
        webhook_id: int = 1,
        delivery_id: str | None = None,
    ) -> WebhookDelivery:
        """Prepare (not send) a delivery; ``resource`` is a payload dict, raw bytes, or the
        id of a stored order/customer/coupon/product (rendered now, as core does)."""
        payload = resource if isinstance(resource, bytes) else self._payload(topic, resource)
        source = (self.url if self.running else "http://127.0.0.1") + "/"
        return build_delivery(
            delivery_url,
            topic,
            payload,
            secret,
            webhook_id=webhook_id,
            delivery_id=delivery_id,
            source=source,
        )

    def send_webhook_deliveries(
        self,
        deliveries: Sequence[WebhookDelivery],
        *,
        shuffle: bool = False,
        seed: int | None = None,
        timeout: float = 10.0,
    ) -> list[DeliveryResult]:
        """POST prepared deliveries, in order or shuffled (out-of-order arrival)."""
        results = send_deliveries(deliveries, shuffle=shuffle, seed=seed, timeout=timeout)
        self.webhook_log.extend(results)
        return results

    def deliver_webhook(
        self,
        delivery_url: str,
        topic: str,
        resource: Mapping[str, Any] | int | bytes,
        secret: str,
        *,
        duplicate: int = 0,
        webhook_id: int = 1,
        delivery_id: str | None = None,
        timeout: float = 10.0,
    ) -> list[DeliveryResult]:
        """Deliver one signed webhook, then resend it ``duplicate`` more times (same
        delivery id and bytes), like a retrying proxy or a replay."""
        delivery = self.build_webhook_delivery(
            delivery_url,
            topic,
            resource,
            secret,
            webhook_id=webhook_id,
            delivery_id=delivery_id,
        )
        return self.send_webhook_deliveries([delivery] * (1 + max(0, duplicate)), timeout=timeout)

    def deliver_ping(
        self, delivery_url: str, webhook_id: int = 1, *, timeout: float = 10.0
    ) -> DeliveryResult:
        """The unsigned ``webhook_id=<id>`` form POST core sends on webhook creation."""
        result = send_ping(delivery_url, webhook_id, timeout=timeout)
        self.webhook_log.append(result)
        return result

    def trigger_webhooks(
        self, topic: str, resource_id: int, *, duplicate: int = 0, timeout: float = 10.0
    ) -> list[DeliveryResult]:
        """Deliver ``topic`` for ``resource_id`` to every active registered webhook now,
        counting failures like core (disabled after more than 5 in a row)."""
        results: list[DeliveryResult] = []
        for hook in self.store.webhooks():
            if hook.status != "active" or hook.topic != topic:
                continue
            sent = self.deliver_webhook(
                hook.delivery_url,
                topic,
                resource_id,
                hook.secret,
                duplicate=duplicate,
                webhook_id=hook.id,
                timeout=timeout,
            )
            for result in sent:
                self.store.record_webhook_result(hook.id, result.ok)
            results.extend(sent)
        return results

    def _on_store_event(self, topic: str, resource_id: int) -> None:
        if self.auto_webhooks:
            self._hook_queue.put((topic, resource_id))

    def _hook_worker(self) -> None:
        while True:
            item = self._hook_queue.get()
            if item is None:
                return
            topic, resource_id = item
            try:
                self.trigger_webhooks(topic, resource_id)
            except WooRestError:
                continue  # resource deleted meanwhile

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
    ) -> tuple[_Response, str | None]:
        """Route, authenticate and run one request; returns (response, route label)."""
        query = parse_php_query(query_string)
        if not raw_path.startswith("/wp-json"):
            return _Response(
                404,
                b"<html><body><h1>Not Found</h1></body></html>",
                {"Content-Type": "text/html; charset=UTF-8"},
            ), None
        site = f"http://{host}"
        outcome = self.auth.authenticate(method, site + raw_path, query, headers)
        route_part = (
            raw_path[len(_PREFIX) :].strip("/") if raw_path.lower().startswith(_PREFIX) else None
        )
        matched: tuple[_Route, re.Match[str]] | None = None
        if route_part is not None:
            for route in self._routes:
                match = route.pattern.match(route_part)
                if match and method in route.methods:
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
            return _Response(error.status, error.envelope(), dict(error.headers)), label

    # ------------------------------------------------------------------ helpers
    def _render(self, req: _Request) -> Renderer:
        host = req.headers.get("Host") or f"{self.host}:{self.port}"
        return Renderer(self.store, f"http://{host}")

    def _paged(
        self,
        req: _Request,
        items: Sequence[_T],
        render: Callable[[_T], dict[str, Any]],
        page: int,
        per_page: int,
        offset: int | None,
    ) -> _Response:
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
        return _Response(200, body, headers)

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
    ) -> _Response:
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
        return _Response(200, result, {})

    # ------------------------------------------------------------------ orders
    def _order_query(self, p: _Params) -> OrderQuery:
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

    def _orders_list(self, req: _Request, match: re.Match[str]) -> _Response:
        p = _Params(req.query)
        page, per_page, offset = _page_args(p)
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

    def _order_get(self, req: _Request, match: re.Match[str]) -> _Response:
        with self.store.lock:
            return _Response(200, self._render(req).order(self._get_order(self._id(match))), {})

    def _order_update(self, req: _Request, match: re.Match[str]) -> _Response:
        body = req.json()
        with self.store.lock:
            order = self.store.update_order(self._id(match), body)
            return _Response(200, self._render(req).order(order), {})

    def _order_delete(self, req: _Request, match: re.Match[str]) -> _Response:
        p = _Params(req.query)
        force = p.boolean("force", False)
        p.check()
        with self.store.lock:
            order = self._get_order(self._id(match))
            before = self._render(req).order(order)
            order = self.store.delete_order(order.id, force=force)
            return _Response(200, before if force else self._render(req).order(order), {})

    def _refund_list_args(self, p: _Params) -> tuple[str, str, datetime | None, datetime | None]:
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

    def _order_refunds_list(self, req: _Request, match: re.Match[str]) -> _Response:
        p = _Params(req.query)
        page, per_page, offset = _page_args(p)
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

    def _order_refund_get(self, req: _Request, match: re.Match[str]) -> _Response:
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
            return _Response(200, self._render(req).refund(refund), {})

    def _order_refund_create(self, req: _Request, match: re.Match[str]) -> _Response:
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
            return _Response(201, self._render(req).refund(refund), {})

    def _refunds_list(self, req: _Request, match: re.Match[str]) -> _Response:
        p = _Params(req.query)
        page, per_page, offset = _page_args(p)
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
    def _customers_list(self, req: _Request, match: re.Match[str]) -> _Response:
        p = _Params(req.query)
        page, per_page, offset = _page_args(p)
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

    def _customer_get(self, req: _Request, match: re.Match[str]) -> _Response:
        with self.store.lock:
            return _Response(
                200, self._render(req).customer(self._get_customer(self._id(match))), {}
            )

    def _customer_update(self, req: _Request, match: re.Match[str]) -> _Response:
        body = req.json()
        with self.store.lock:
            customer = self.store.update_customer(self._id(match), body)
            return _Response(200, self._render(req).customer(customer), {})

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

    def _customer_create(self, req: _Request, match: re.Match[str]) -> _Response:
        return _Response(201, self._create_customer(req, req.json()), {})

    def _customer_delete(self, req: _Request, match: re.Match[str]) -> _Response:
        p = _Params(req.query)
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
            return _Response(200, body, {})

    def _customers_batch(self, req: _Request, match: re.Match[str]) -> _Response:
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
    def _products_list(self, req: _Request, match: re.Match[str]) -> _Response:
        p = _Params(req.query)
        page, per_page, offset = _page_args(p)
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

    def _product_get(self, req: _Request, match: re.Match[str]) -> _Response:
        with self.store.lock:
            product = self.store.get_product(self._id(match))
            if product is None or product.parent_id:
                raise WooRestError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
            return _Response(200, self._render(req).product(product), {})

    def _categories_list(self, req: _Request, match: re.Match[str]) -> _Response:
        p = _Params(req.query)
        page, per_page, offset = _page_args(p)
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

    def _category_get(self, req: _Request, match: re.Match[str]) -> _Response:
        with self.store.lock:
            category = self.store.get_category(self._id(match))
            if category is None:
                raise WooRestError(404, "woocommerce_rest_term_invalid", "Resource doesn't exist.")
            return _Response(200, self._render(req).category(category), {})

    # ------------------------------------------------------------------ coupons
    def _coupons_list(self, req: _Request, match: re.Match[str]) -> _Response:
        p = _Params(req.query)
        page, per_page, offset = _page_args(p)
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

    def _coupon_get(self, req: _Request, match: re.Match[str]) -> _Response:
        with self.store.lock:
            coupon = self.store.get_coupon(self._id(match))
            if coupon is None:
                raise WooRestError(404, "woocommerce_rest_shop_coupon_invalid_id", "Invalid ID.")
            return _Response(200, self._render(req).coupon(coupon), {})

    def _coupon_create(self, req: _Request, match: re.Match[str]) -> _Response:
        body = req.json()
        with self.store.lock:
            return _Response(201, self._render(req).coupon(self.store.create_coupon(body)), {})

    def _coupon_update(self, req: _Request, match: re.Match[str]) -> _Response:
        body = req.json()
        with self.store.lock:
            coupon = self.store.update_coupon(self._id(match), body)
            return _Response(200, self._render(req).coupon(coupon), {})

    def _coupon_delete(self, req: _Request, match: re.Match[str]) -> _Response:
        p = _Params(req.query)
        force = p.boolean("force", False)
        p.check()
        with self.store.lock:
            coupon = self.store.delete_coupon(self._id(match), force=force)
            return _Response(200, self._render(req).coupon(coupon), {})

    def _coupons_batch(self, req: _Request, match: re.Match[str]) -> _Response:
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
    def _webhooks_list(self, req: _Request, match: re.Match[str]) -> _Response:
        p = _Params(req.query)
        page, per_page, offset = _page_args(p)
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

    def _webhook_get(self, req: _Request, match: re.Match[str]) -> _Response:
        with self.store.lock:
            return _Response(200, self._render(req).webhook(self._get_webhook(self._id(match))), {})

    def _webhook_create(self, req: _Request, match: re.Match[str]) -> _Response:
        body = req.json()
        with self.store.lock:
            webhook = self.store.create_webhook(body)
            return _Response(201, self._render(req).webhook(webhook), {})

    def _webhook_update(self, req: _Request, match: re.Match[str]) -> _Response:
        body = req.json()
        with self.store.lock:
            webhook = self.store.update_webhook(self._id(match), body)
            return _Response(200, self._render(req).webhook(webhook), {})

    def _webhook_delete(self, req: _Request, match: re.Match[str]) -> _Response:
        p = _Params(req.query)
        force = p.boolean("force", False)
        p.check()
        if not force:
            raise WooRestError(
                501, "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing."
            )
        with self.store.lock:
            body = self._render(req).webhook(self._get_webhook(self._id(match)))
            self.store.delete_webhook(self._id(match))
            return _Response(200, body, {})


class _RequestHandler(BaseHTTPRequestHandler):
    """Per-connection handler; ``emulator`` is set on a generated subclass."""

    emulator: WooCommerceEmulator
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    timeout = 30

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle + delayed ACK add
        # ~40 ms to every keep-alive response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.emulator._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.emulator._track(self.connection, False)

    def version_string(self) -> str:
        """``Server: nginx``, like most WooCommerce hosts."""
        return "nginx"

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet (tests and benchmarks would drown in access logs)."""

    def _dispatch(self) -> None:
        emulator = self.emulator
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        split = urlsplit(self.path)
        raw_path = split.path.rstrip("/") or "/"
        delay = emulator.faults.delay()
        if delay:
            time.sleep(delay)
        fault = emulator.faults.before(raw_path)
        if isinstance(fault, FaultResponse):
            self._send(fault.status, fault.body, dict(fault.headers))
            emulator._count(raw_path, None, fault.status)
            return
        headers = {k: v for k, v in self.headers.items()}
        host = self.headers.get("Host") or f"{emulator.host}:{emulator.port}"
        response, label = emulator.handle(
            self.command, raw_path, split.query, _Headers(headers), body, host
        )
        emulator._count(raw_path, label, response.status)
        if isinstance(response.body, bytes):
            payload = response.body
        else:
            payload = wp_json(response.body)
            response.headers.setdefault("Content-Type", "application/json; charset=UTF-8")
        truncation = None
        if response.status == 200:
            truncation = (
                emulator.faults.forced_truncation(len(payload))
                if fault == "truncate"
                else emulator.faults.truncation(len(payload))
            )
        if truncation is not None and truncation[0] == "connection":
            self._send(response.status, payload, response.headers, cut=truncation[1])
            return
        if truncation is not None:
            payload = payload[: truncation[1]]
        self._send(response.status, payload, response.headers)

    def _send(
        self, status: int, payload: bytes, headers: Mapping[str, str], cut: int | None = None
    ) -> None:
        self.send_response(status)
        headers = dict(headers)
        headers.setdefault("X-Robots-Tag", "noindex")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Access-Control-Expose-Headers", "X-WP-Total, X-WP-TotalPages, Link")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        if cut is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload if cut is None else payload[:cut])
        if cut is not None:
            self.wfile.flush()
            self.close_connection = True

    do_GET = _dispatch  # noqa: N815 - stdlib naming
    do_POST = _dispatch  # noqa: N815
    do_PUT = _dispatch  # noqa: N815
    do_PATCH = _dispatch  # noqa: N815
    do_DELETE = _dispatch  # noqa: N815
    do_OPTIONS = _dispatch  # noqa: N815
    do_HEAD = _dispatch  # noqa: N815


class _Headers(dict[str, str]):
    """Case-insensitive ``get`` over request headers."""

    def __init__(self, items: Mapping[str, str]) -> None:
        super().__init__({k.lower(): v for k, v in items.items()})

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __iter__(self) -> Iterator[str]:
        return super().__iter__()
