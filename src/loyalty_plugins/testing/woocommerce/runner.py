"""``run_emulator``: build a shop and serve it until interrupted (for the CLI and demos)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime

from .faults import EmulatorFaults
from .generator import generate_store
from .server import DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET, WooCommerceEmulator

__all__ = ["run_emulator"]


def run_emulator(
    orders: int = 1000,
    port: int = 8765,
    seed: int = 0,
    customers: int | None = None,
    latency: float = 0.0,
    *,
    host: str = "127.0.0.1",
    error_rate: float = 0.0,
    throttle_every: int = 0,
    rate_limit: float | None = None,
    truncate_rate: float = 0.0,
    period_days: int = 365,
    currency: str = "EUR",
    now: datetime | None = None,
    consumer_key: str = DEFAULT_CONSUMER_KEY,
    consumer_secret: str = DEFAULT_CONSUMER_SECRET,
    auto_webhooks: bool = True,
    stop: threading.Event | None = None,
    on_ready: Callable[[WooCommerceEmulator], None] | None = None,
    echo: Callable[[str], None] = print,
) -> None:
    """Generate a shop of ``orders`` orders and serve it on ``host:port`` (blocking).

    Prints the URL and the API credentials, then serves until Ctrl-C or until ``stop``
    is set. ``on_ready`` is called with the running emulator (handy in tests).
    """
    started = time.perf_counter()
    store = generate_store(
        orders,
        customers=customers,
        seed=seed,
        now=now,
        period_days=period_days,
        currency=currency,
    )
    took = time.perf_counter() - started
    faults = EmulatorFaults(
        latency=latency,
        error_rate=error_rate,
        throttle_every=throttle_every,
        rate_limit=rate_limit,
        truncate_rate=truncate_rate,
        seed=seed,
    )
    emulator = WooCommerceEmulator(
        store,
        host=host,
        port=port,
        consumer_key=consumer_key,
        consumer_secret=consumer_secret,
        faults=faults,
        auto_webhooks=auto_webhooks,
    )
    emulator.start()
    counts = store.counts()
    echo(
        f"WooCommerce emulator: {counts['orders']} orders, {counts['customers']} customers, "
        f"{counts['refunds']} refunds, {counts['products']} products (generated in {took:.1f}s)"
    )
    echo(f"  URL:             {emulator.url}")
    echo(f"  REST API:        {emulator.api_url}")
    echo(f"  consumer key:    {emulator.consumer_key}")
    echo(f"  consumer secret: {emulator.consumer_secret}")
    echo(
        f"  try: curl -u {emulator.consumer_key}:{emulator.consumer_secret} "
        f"'{emulator.api_url}/orders?per_page=5'"
    )
    echo("Press Ctrl-C to stop.")
    if on_ready is not None:
        on_ready(emulator)
    try:
        (stop or threading.Event()).wait()
    except KeyboardInterrupt:
        echo("stopping")
    finally:
        emulator.stop()
