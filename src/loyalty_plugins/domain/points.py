"""Points are plain integers; these helpers turn exact Decimals into them on purpose."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal
from typing import Literal

from loyalty_plugins.errors import InvalidAmount

Rounding = Literal["down", "up", "half_up", "half_even"]

_MODES: dict[str, str] = {
    "down": ROUND_DOWN,
    "up": ROUND_UP,
    "half_up": ROUND_HALF_UP,
    "half_even": ROUND_HALF_EVEN,
}

#: Upper bound for one posting; keeps every value inside a signed 64-bit column.
MAX_POINTS = 10**15


def to_points(value: Decimal, rounding: Rounding = "down") -> int:
    """Round an exact Decimal to whole points with an explicit mode."""
    if rounding not in _MODES:
        raise InvalidAmount("rounding", f"unknown rounding mode {rounding!r}")
    return int(value.to_integral_value(rounding=_MODES[rounding]))


def check_points(value: object, field: str = "points", *, allow_zero: bool = False) -> int:
    """Validate a points argument: an int (not bool), positive, below :data:`MAX_POINTS`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAmount(field, f"{value!r} is not a whole number of points")
    if value < 0 or (value == 0 and not allow_zero):
        raise InvalidAmount(field, f"{value} must be positive")
    if value > MAX_POINTS:
        raise InvalidAmount(field, f"{value} exceeds the maximum of {MAX_POINTS}")
    return value
