"""Webhook deliveries as WooCommerce sends them (``WC_Webhook::deliver`` / ``deliver_ping``).

A delivery is a POST of ``trim(wp_json_encode(payload))`` with ``Content-Type:
application/json``, ``User-Agent: WooCommerce/<v> Hookshot (WordPress/<v>)`` and the
``X-WC-Webhook-*`` headers; ``X-WC-Webhook-Signature`` is
``base64(HMAC-SHA256(secret, raw body))``. Redirects are not followed. The ping sent when a
webhook is created is a form body ``webhook_id=<id>`` with no signature and no
``X-WC-Webhook-*`` headers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from .render import wp_json

__all__ = [
    "DeliveryResult",
    "WebhookDelivery",
    "build_delivery",
    "send_deliveries",
    "send_ping",
    "webhook_signature",
]

WC_VERSION = "9.4.2"
WP_VERSION = "6.7.1"
USER_AGENT = f"WooCommerce/{WC_VERSION} Hookshot (WordPress/{WP_VERSION})"


def webhook_signature(body: bytes, secret: str) -> str:
    """``X-WC-Webhook-Signature`` of a raw body (base64 of HMAC-SHA256 with the secret)."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One prepared delivery: the exact bytes and headers that will be POSTed."""

    delivery_url: str
    body: bytes
    headers: dict[str, str]
    delivery_id: str
    webhook_id: int
    topic: str


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What the receiver answered (``status_code`` None when the request failed)."""

    delivery: WebhookDelivery
    status_code: int | None
    response_body: str
    error: str | None
    elapsed: float

    @property
    def ok(self) -> bool:
        """Success as core counts it: a status from 200 to 302."""
        return self.status_code is not None and 200 <= self.status_code <= 302


def build_delivery(
    delivery_url: str,
    topic: str,
    payload: Mapping[str, Any] | bytes | str,
    secret: str,
    *,
    webhook_id: int = 1,
    delivery_id: str | None = None,
    source: str = "http://127.0.0.1/",
) -> WebhookDelivery:
    """Prepare a delivery; ``payload`` may be a dict (encoded like core) or raw bytes."""
    if isinstance(payload, bytes):
        body = payload
    elif isinstance(payload, str):
        body = payload.encode()
    else:
        body = wp_json(payload).strip()
    if topic.startswith("action."):
        resource, event = "action", topic[len("action.") :]
    else:
        resource, _, event = topic.partition(".")
    delivery_id = delivery_id or uuid.uuid4().hex
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-WC-Webhook-Source": source,
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": webhook_signature(body, secret),
        "X-WC-Webhook-ID": str(webhook_id),
        "X-WC-Webhook-Delivery-ID": delivery_id,
    }
    return WebhookDelivery(delivery_url, body, headers, delivery_id, webhook_id, topic)


def _post(
    url: str, body: bytes, headers: Mapping[str, str], timeout: float
) -> tuple[int | None, str, str | None, float]:
    started = time.monotonic()
    try:
        response = requests.post(
            url, data=body, headers=dict(headers), timeout=timeout, allow_redirects=False
        )
    except requests.RequestException as exc:
        return None, "", f"{type(exc).__name__}: {exc}", time.monotonic() - started
    return response.status_code, response.text, None, time.monotonic() - started


def send_deliveries(
    deliveries: Iterable[WebhookDelivery],
    *,
    shuffle: bool = False,
    seed: int | None = None,
    timeout: float = 10.0,
) -> list[DeliveryResult]:
    """POST deliveries in the given order, or shuffled (seeded) to test out-of-order."""
    batch = list(deliveries)
    if shuffle:
        random.Random(seed).shuffle(batch)
    results: list[DeliveryResult] = []
    for delivery in batch:
        status, text, error, elapsed = _post(
            delivery.delivery_url, delivery.body, delivery.headers, timeout
        )
        results.append(DeliveryResult(delivery, status, text, error, elapsed))
    return results


def send_ping(delivery_url: str, webhook_id: int, *, timeout: float = 10.0) -> DeliveryResult:
    """The unsigned form-encoded ping core sends when a webhook is created."""
    body = f"webhook_id={webhook_id}".encode()
    headers = {
        "User-Agent": USER_AGENT,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    delivery = WebhookDelivery(delivery_url, body, headers, "", webhook_id, "ping")
    status, text, error, elapsed = _post(delivery_url, body, headers, timeout)
    return DeliveryResult(delivery, status, text, error, elapsed)
