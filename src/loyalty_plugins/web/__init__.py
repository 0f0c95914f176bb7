"""The webhook receiver behind ``loyalty serve``: verify, store, acknowledge, then process.

::

    from loyalty_plugins.web import serve

    serve(program, secrets={("woocommerce", "main"): "s3cret"}, processor=handle_delivery)

WooCommerce posts to ``/webhooks/woocommerce/main``, Shopify to ``/webhooks/shopify/<shop>``.
Deliveries are stored in the inbox before the answer and processed by a background
worker; :func:`drain_inbox` processes leftovers from cron.
"""

from __future__ import annotations

from loyalty_plugins.web.app import DEFAULT_MAX_BODY_BYTES, create_app, derive_delivery_id
from loyalty_plugins.web.inbox import (
    InboxWorker,
    Processor,
    delivery_json,
    drain_inbox,
    process_delivery,
)
from loyalty_plugins.web.server import ServerHandle, serve, start_in_thread

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "InboxWorker",
    "Processor",
    "ServerHandle",
    "create_app",
    "delivery_json",
    "derive_delivery_id",
    "drain_inbox",
    "process_delivery",
    "serve",
    "start_in_thread",
]
