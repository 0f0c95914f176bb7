"""A WooCommerce ``wc/v3`` store emulator: a real HTTP server for tests, demos, benchmarks.

::

    from loyalty_plugins.testing.woocommerce import WooCommerceEmulator, generate_store

    with WooCommerceEmulator(generate_store(1000, seed=1)) as emu:
        print(emu.url, emu.consumer_key, emu.consumer_secret)

The pytest fixtures ``woocommerce_emulator`` and ``woocommerce_emulator_factory`` live in
:mod:`loyalty_plugins.testing.woocommerce.fixtures` (imported lazily here, so that using
the emulator does not need pytest).
"""

from __future__ import annotations

from typing import Any

from .auth import ApiKey
from .faults import EmulatorFaults
from .generator import generate_store
from .models import WooRestError
from .runner import run_emulator
from .server import (
    DEFAULT_CONSUMER_KEY,
    DEFAULT_CONSUMER_SECRET,
    RequestStats,
    WooCommerceEmulator,
)
from .store import CouponNotUsableError, OrderQuery, WooStore
from .webhooks import DeliveryResult, WebhookDelivery, webhook_signature

__all__ = [
    "DEFAULT_CONSUMER_KEY",
    "DEFAULT_CONSUMER_SECRET",
    "ApiKey",
    "CouponNotUsableError",
    "DeliveryResult",
    "EmulatorFaults",
    "OrderQuery",
    "RequestStats",
    "WebhookDelivery",
    "WooCommerceEmulator",
    "WooRestError",
    "WooStore",
    "generate_store",
    "run_emulator",
    "webhook_signature",
    "woocommerce_emulator",
    "woocommerce_emulator_factory",
]


def __getattr__(name: str) -> Any:
    if name in ("woocommerce_emulator", "woocommerce_emulator_factory"):
        from . import fixtures

        return getattr(fixtures, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
