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
import queue
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from .api import API_PREFIX, RestApi
from .auth import ApiKey, Authenticator
from .faults import EmulatorFaults, FaultResponse
from .models import WooRestError
from .render import Renderer, wp_json
from .store import WooStore
from .webhooks import DeliveryResult, WebhookDelivery, build_delivery, send_deliveries, send_ping

__all__ = ["DEFAULT_CONSUMER_KEY", "DEFAULT_CONSUMER_SECRET", "RequestStats", "WooCommerceEmulator"]

DEFAULT_CONSUMER_KEY = "ck_4f1c2b9e8d7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c"
DEFAULT_CONSUMER_SECRET = "cs_9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b"  # noqa: S105 - test key


@dataclass(frozen=True, slots=True)
class RequestStats:
    """A snapshot of the request counters."""

    total: int
    by_path: dict[str, int]
    by_route: dict[str, int]
    by_status: dict[int, int]


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
        self.api = RestApi(
            store,
            self.auth,
            honour_customer_modified_after=honour_customer_modified_after,
            batch_limit=batch_limit,
        )
        self.auto_webhooks = auto_webhooks
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
        return self.url + API_PREFIX

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
            path = f"{API_PREFIX}/{path}"
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
        response, label = emulator.api.handle(
            self.command, split.path, split.query, _Headers(headers), body, host
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
