"""The commented ``loyalty.toml`` that ``loyalty init`` writes."""

from __future__ import annotations

from pathlib import Path

from loyalty_plugins.config import load_config
from loyalty_plugins.domain.money import normalize_currency

STARTER = """\
# loyalty.toml: the loyalty program of this shop.
# Amounts are decimal strings or TOML numbers; both are read exactly (never as floats).

[program]
currency = "{currency}"            # ISO 4217 code of the shop
database = "{database}"            # sqlite:///file.db (relative to this file) or postgresql+psycopg://...
return_window_days = 14          # points stay pending until returns are no longer possible
expiry_months = 12               # points expire this long after they were earned (0 = never)
clawback = "negative"            # refund of spent points: negative | forfeit | deduct_next
point_value = "0.01"             # money value of one point (liability reports)

[earn]
points_per_unit = "1"            # points per 1 {currency} of eligible line totals
rounding = "down"                # down | up | half_up | half_even (applied once per order)
minimum_order = "0"
excluded_categories = ["Gift cards"]
excluded_products = []

[earn.category_multipliers]
# "Cat food" = "2"

[earn.product_multipliers]
# "123" = "3"

[tiers]
basis = "spend"                  # spend | points, over a rolling window
window_days = 365
grace_days = 30                  # how long a member keeps a tier after falling below it
refund_downgrade_immediate = true

[[tiers.levels]]
key = "silver"
name = "Silver"
threshold = "250"
earn_multiplier = "1.25"

[[tiers.levels]]
key = "gold"
name = "Gold"
threshold = "1000"
earn_multiplier = "1.5"

[[rewards]]
key = "5-off"
name = "5 {currency} off your next order"
cost = 500
kind = "fixed_amount"            # fixed_amount | percent | free_shipping | free_product
value = "5"
valid_days = 90

[[rewards]]
key = "10-percent"
name = "10% off"
cost = 800
kind = "percent"
value = "10"

[[rewards]]
key = "free-shipping"
name = "Free shipping"
cost = 300
kind = "free_shipping"
"""


def starter_text(*, database: str, currency: str) -> str:
    """The starter configuration for ``currency`` on ``database``."""
    return STARTER.format(database=database, currency=normalize_currency(currency))


def write_starter_config(path: Path, *, database: str | None = None, currency: str = "EUR") -> None:
    """Write the starter file at ``path`` and validate it by loading it back."""
    database = database or "sqlite:///loyalty.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(starter_text(database=database, currency=currency), encoding="utf-8")
    try:
        load_config(tmp)
    except Exception:
        tmp.unlink()
        raise
    tmp.replace(path)
