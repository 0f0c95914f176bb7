"""Pytest fixtures for the WooCommerce emulator (register this module as a pytest plugin).

* ``woocommerce_emulator``: a running emulator over a fixed, reproducible shop of 200
  orders (seed 1234, "now" = 2025-06-01 12:00 UTC), stopped after the test.
* ``woocommerce_emulator_factory``: build your own, e.g.
  ``factory(orders=2000, faults=EmulatorFaults(error_rate=0.1))``; all stopped after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from .generator import generate_store
from .server import WooCommerceEmulator

__all__ = ["FIXTURE_NOW", "woocommerce_emulator", "woocommerce_emulator_factory"]

#: The "now" of the fixture shops, so that generated data is identical on every run.
FIXTURE_NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

EmulatorFactory = Callable[..., WooCommerceEmulator]


@pytest.fixture
def woocommerce_emulator_factory() -> Iterator[EmulatorFactory]:
    """A factory ``(orders=200, *, seed=1234, now=FIXTURE_NOW, customers=None,
    period_days=365, **emulator_options) -> running WooCommerceEmulator``."""
    started: list[WooCommerceEmulator] = []

    def make(
        orders: int = 200,
        *,
        seed: int = 1234,
        now: datetime = FIXTURE_NOW,
        customers: int | None = None,
        period_days: int = 365,
        **options: Any,
    ) -> WooCommerceEmulator:
        store = generate_store(
            orders, seed=seed, now=now, customers=customers, period_days=period_days
        )
        emulator = WooCommerceEmulator(store, **options).start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()


@pytest.fixture
def woocommerce_emulator(
    woocommerce_emulator_factory: EmulatorFactory,
) -> WooCommerceEmulator:
    """A running emulator with 200 generated orders (reproducible)."""
    return woocommerce_emulator_factory()
