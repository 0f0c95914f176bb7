"""The webhook receiver: an ASGI (Starlette) app that verifies, stores and acknowledges.

Routes:

* ``POST /webhooks/woocommerce/{store}`` and ``POST /webhooks/shopify/{store}``;
* ``GET /healthz``: ``200 {"ok": true}``.

A delivery is only *stored* in the inbox (one insert) before the answer; the work happens
afterwards in :class:`~loyalty_plugins.web.inbox.InboxWorker` or in a cron
:func:`~loyalty_plugins.web.inbox.drain_inbox`. WooCommerce never retries and disables a
webhook after a handful of failed deliveries, and Shopify wants an answer within 5 s, so
the receiver answers fast and answers 200 to everything it accepted, including bodies it
had to quarantine. Answers, in the order they are decided:

=====  =========================================================================
 404   the store (path) has no configured secret for that platform
 413   the body is longer than ``max_body_bytes`` (read with a cap, never buffered)
 200   WooCommerce creation ping: unsigned form body ``webhook_id=<n>``; nothing stored
 401   signature header missing or wrong (verified over the raw bytes, constant time)
 200   ``{"ok": true}`` stored; ``{"ok": true, "duplicate": true}`` delivery id seen
       before; ``{"ok": true, "quarantined": true}`` not storable as text (invalid
       UTF-8, NUL characters, an over-long topic): quarantined instead of stored
 503   storing failed unexpectedly (logged without secrets or body). Never 500.
=====  =========================================================================

**Delivery ids.** WooCommerce: ``X-WC-Webhook-Delivery-ID``. Shopify:
``X-Shopify-Event-Id``, else ``webhook:`` + ``X-Shopify-Webhook-Id``. When the platform sent
none, the id is derived from the content: ``"sha256:" + sha256(topic UTF-8 + b"\\n" + raw
body).hexdigest()``, so a replay of the same bytes is still recognised. An id longer
than the inbox column (128) is replaced by ``"sha256:" + sha256(id).hexdigest()``.

**Receive-time quarantine** (resource ``"webhook"``, external id = the delivery id): the
payload is the JSON object ``{"delivery_id", "topic", "body_base64"}`` so the exact bytes
survive.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from loyalty_plugins.errors import ConfigError
from loyalty_plugins.sync.signatures import verify_shopify_hmac, verify_woocommerce_signature
from loyalty_plugins.sync.state import quarantine_payload, store_delivery
from loyalty_plugins.web.inbox import QUARANTINE_RESOURCE, InboxWorker, Processor

if TYPE_CHECKING:
    from loyalty_plugins.program import LoyaltyProgram

__all__ = ["DEFAULT_MAX_BODY_BYTES", "PLATFORMS", "create_app", "derive_delivery_id"]

log = logging.getLogger(__name__)

#: Default cap on a webhook body (1 MiB); a WooCommerce order is a few kB.
DEFAULT_MAX_BODY_BYTES = 1_048_576

# Column sizes of the inbox table (storage/tables.py).
_STORE_MAX = 128
_DELIVERY_ID_MAX = 128
_TOPIC_MAX = 64

# What WooCommerce's deliver_ping() posts: form-encoded, unsigned.
_WOO_PING = re.compile(rb"webhook_id=[0-9]{1,20}")

Outcome = Literal["stored", "duplicate", "quarantined"]


@dataclass(frozen=True, slots=True)
class _Platform:
    name: str
    signature_header: str
    delivery_id_headers: tuple[tuple[str, str], ...]  # (header, prefix), first present wins
    topic_header: str
    verify: Callable[[bytes, str, str | None], bool]
    answers_ping: bool


_WOOCOMMERCE = _Platform(
    name="woocommerce",
    signature_header="x-wc-webhook-signature",
    delivery_id_headers=(("x-wc-webhook-delivery-id", ""),),
    topic_header="x-wc-webhook-topic",
    verify=verify_woocommerce_signature,
    answers_ping=True,
)

_SHOPIFY = _Platform(
    name="shopify",
    signature_header="x-shopify-hmac-sha256",
    delivery_id_headers=(("x-shopify-event-id", ""), ("x-shopify-webhook-id", "webhook:")),
    topic_header="x-shopify-topic",
    verify=verify_shopify_hmac,
    answers_ping=False,
)

#: Platforms the receiver has a route for.
PLATFORMS: tuple[str, ...] = (_WOOCOMMERCE.name, _SHOPIFY.name)


def derive_delivery_id(topic: str, body: bytes) -> str:
    """The id used when a delivery carries none: ``sha256:`` + hex of topic, LF, raw body."""
    digest = hashlib.sha256(topic.encode("utf-8", "surrogatepass") + b"\n" + body)
    return "sha256:" + digest.hexdigest()


def _delivery_id(platform: _Platform, request: Request, topic: str, body: bytes) -> str:
    for header, prefix in platform.delivery_id_headers:
        value = request.headers.get(header, "").strip()
        if value:
            value = prefix + value
            if len(value) > _DELIVERY_ID_MAX:
                digest = hashlib.sha256(value.encode("utf-8", "surrogatepass"))
                value = "sha256:" + digest.hexdigest()
            return value
    return derive_delivery_id(topic, body)


def _answer(status: int, **content: Any) -> JSONResponse:
    return JSONResponse(content, status_code=status)


def _printable(value: str, limit: int = 64) -> str:
    """A path segment safe to log: repr'd and cut short (it comes from the client)."""
    return repr(value[:limit])


def _validated_secrets(secrets: Mapping[tuple[str, str], str]) -> dict[tuple[str, str], str]:
    checked: dict[tuple[str, str], str] = {}
    for key, secret in secrets.items():
        if not (isinstance(key, tuple) and len(key) == 2):
            raise ConfigError(f"webhook secrets are keyed by (platform, store), got {key!r}")
        platform, store = key
        if platform not in PLATFORMS:
            raise ConfigError(
                f"unknown webhook platform {platform!r}; expected one of {', '.join(PLATFORMS)}"
            )
        if not isinstance(store, str) or not store or "/" in store or len(store) > _STORE_MAX:
            raise ConfigError(
                f"webhook store name {store!r} must be 1-{_STORE_MAX} characters without '/'"
            )
        if not isinstance(secret, str) or not secret:
            # HMAC with an empty key is computable by anyone: it authenticates nothing.
            raise ConfigError(f"the webhook secret of {platform} store {store!r} is empty")
        checked[(platform, store)] = secret
    return checked


class _Receiver:
    """The request handlers; one per app."""

    def __init__(
        self,
        program: LoyaltyProgram,
        secrets: dict[tuple[str, str], str],
        max_body_bytes: int,
        worker: InboxWorker | None,
    ) -> None:
        self.program = program
        self.secrets = secrets
        self.max_body_bytes = max_body_bytes
        self.worker = worker

    async def woocommerce(self, request: Request) -> Response:
        return await self._receive(_WOOCOMMERCE, request)

    async def shopify(self, request: Request) -> Response:
        return await self._receive(_SHOPIFY, request)

    async def _read_body(self, request: Request) -> bytes | None:
        """The raw body, or None when it is longer than the cap (stops reading there)."""
        cap = self.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > cap:
            return None
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > cap:
                return None
        return bytes(body)

    async def _receive(self, platform: _Platform, request: Request) -> Response:
        store = request.path_params.get("store", "")
        try:
            return await self._handle(platform, store, request)
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is listening any more
        except Exception as exc:
            # Type only: messages of database errors quote the statement's parameters.
            log.error(
                "%s webhook for store %s failed: %s; answered 503",
                platform.name,
                _printable(store),
                type(exc).__name__,
            )
            return _answer(503, ok=False, error="temporarily unavailable")

    async def _handle(self, platform: _Platform, store: str, request: Request) -> Response:
        secret = self.secrets.get((platform.name, store))
        if secret is None:
            log.info("%s webhook for unknown store %s", platform.name, _printable(store))
            return _answer(404, ok=False, error="unknown store")

        body = await self._read_body(request)
        if body is None:
            log.warning(
                "%s webhook for store %r: body over %d bytes refused",
                platform.name,
                store,
                self.max_body_bytes,
            )
            return _answer(413, ok=False, error="body too large")

        signature = request.headers.get(platform.signature_header)
        if signature is None and platform.answers_ping and _WOO_PING.fullmatch(body):
            log.info("%s webhook ping for store %r answered", platform.name, store)
            return _answer(200, ok=True, ping=True)

        if not platform.verify(body, secret, signature):
            log.warning(
                "%s webhook for store %r refused: %s signature",
                platform.name,
                store,
                "missing" if signature is None else "invalid",
            )
            return _answer(401, ok=False, error="invalid signature")

        topic = request.headers.get(platform.topic_header, "").strip()
        delivery_id = _delivery_id(platform, request, topic, body)
        outcome = await run_in_threadpool(
            self._store, platform.name, store, delivery_id, topic, body
        )
        if outcome == "duplicate":
            return _answer(200, ok=True, duplicate=True)
        if outcome == "quarantined":
            return _answer(200, ok=True, quarantined=True)
        if self.worker is not None:
            self.worker.wake()
        return _answer(200, ok=True)

    def _store(
        self, platform: str, store: str, delivery_id: str, topic: str, body: bytes
    ) -> Outcome:
        """Insert into the inbox, or quarantine what cannot be stored as text (blocking)."""
        now = self.program.clock.now()
        reason: str | None = None
        text = ""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            reason = "body is not valid UTF-8"
        else:
            if "\x00" in text:
                reason = "body contains a NUL character"
            elif len(topic) > _TOPIC_MAX:
                reason = f"topic header is longer than {_TOPIC_MAX} characters"
        if reason is not None:
            quarantine_payload(
                self.program.db,
                platform=platform,
                store=store,
                resource=QUARANTINE_RESOURCE,
                external_id=delivery_id,
                payload={
                    "delivery_id": delivery_id,
                    "topic": topic,
                    "body_base64": base64.b64encode(body).decode("ascii"),
                },
                reason=reason,
                now=now,
            )
            log.warning(
                "%s webhook %s for store %r quarantined: %s", platform, delivery_id, store, reason
            )
            return "quarantined"
        stored = store_delivery(
            self.program.db,
            platform=platform,
            store=store,
            delivery_id=delivery_id,
            topic=topic,
            body=text,
            now=now,
        )
        log.debug(
            "%s webhook %s for store %r (%s): %s",
            platform,
            delivery_id,
            store,
            topic,
            "stored" if stored else "duplicate",
        )
        return "stored" if stored else "duplicate"


async def _healthz(request: Request) -> Response:
    return _answer(200, ok=True)


def create_app(
    program: LoyaltyProgram,
    *,
    secrets: Mapping[tuple[str, str], str],
    processor: Processor | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    poll_interval: float = 1.0,
) -> Starlette:
    """The webhook receiver as an ASGI app (see the module docs for the routes).

    Args:
        program: the loyalty program; deliveries go to its database, stamped by its clock.
        secrets: webhook secret per ``(platform, store)``, e.g.
            ``{("woocommerce", "main"): "s3cret"}`` serves ``/webhooks/woocommerce/main``.
            Empty secrets are refused (:class:`~loyalty_plugins.errors.ConfigError`).
        processor: called with each stored delivery by a background worker that runs
            with the app's lifespan. None: no worker; deliveries wait in the inbox for
            :func:`~loyalty_plugins.web.inbox.drain_inbox`.
        max_body_bytes: longer bodies are answered 413 without being read further.
        poll_interval: seconds between inbox scans when no delivery wakes the worker.

    The worker is ``app.state.inbox_worker`` (None without a processor).
    """
    if max_body_bytes < 1:
        raise ValueError("max_body_bytes must be at least 1")
    checked = _validated_secrets(secrets)
    worker = (
        InboxWorker(program, processor, poll_interval=poll_interval)
        if processor is not None
        else None
    )
    receiver = _Receiver(program, checked, max_body_bytes, worker)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                await run_in_threadpool(worker.stop)

    app = Starlette(
        routes=[
            Route("/webhooks/woocommerce/{store}", receiver.woocommerce, methods=["POST"]),
            Route("/webhooks/shopify/{store}", receiver.shopify, methods=["POST"]),
            Route("/healthz", _healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.inbox_worker = worker
    return app
