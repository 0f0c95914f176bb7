"""Hook implementations of the WooCommerce adapter (registered by entry point)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from loyalty_plugins.plugins import hookimpl


@dataclass(frozen=True)
class WooCommerceAdapter:
    """Describes the adapter; mapping lives in :mod:`loyalty_woocommerce.mapping`."""

    name: str = "woocommerce"
    api_version: str = "wc/v3"


@hookimpl
def loyalty_register_adapters(register: Callable[[Any], None]) -> None:
    """Register the WooCommerce adapter."""
    register(WooCommerceAdapter())
