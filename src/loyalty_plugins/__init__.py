"""loyalty_plugins: a customer-loyalty program for WooCommerce and Shopify shops.

The curated public API; everything else is importable from its module but may move.
"""

from loyalty_plugins.context import HookContext, Refusal
from loyalty_plugins.domain.money import Money
from loyalty_plugins.errors import (
    ConfigError,
    CouponNotApplicable,
    CurrencyMismatch,
    IdempotencyMismatch,
    InsufficientPoints,
    LoyaltyError,
    RateLimited,
    RefundExceedsOrder,
    Refused,
)
from loyalty_plugins.hooks import BonusPoints, ReportSection
from loyalty_plugins.plugins import hookimpl
from loyalty_plugins.program import LoyaltyProgram

__all__ = [
    "BonusPoints",
    "ConfigError",
    "CouponNotApplicable",
    "CurrencyMismatch",
    "HookContext",
    "IdempotencyMismatch",
    "InsufficientPoints",
    "LoyaltyError",
    "LoyaltyProgram",
    "Money",
    "RateLimited",
    "RefundExceedsOrder",
    "Refusal",
    "Refused",
    "ReportSection",
    "hookimpl",
]
