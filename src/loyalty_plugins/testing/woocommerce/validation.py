"""Validation helpers that answer like the WordPress REST server.

Type errors, out-of-range integers and unknown enum values become ``400
rest_invalid_param`` envelopes with WordPress' own messages (``per_page must be between 1
(inclusive) and 100 (inclusive)``, ``order is not one of asc and desc.``, ...).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from .models import WooRestError

__all__ = [
    "QueryParams",
    "expect_bool",
    "expect_int",
    "expect_int_list",
    "expect_str",
    "invalid_param",
    "page_args",
    "parse_wp_date",
    "to_decimal",
    "wp_list",
]


def to_decimal(value: Any, field_name: str) -> Decimal:
    """Parse a numeric string (or number) for ``field_name``; 400 if it is not one."""
    try:
        result = Decimal(str(value).strip() or "0")
    except InvalidOperation:
        raise WooRestError(
            400, "rest_invalid_param", f"Invalid parameter(s): {field_name}"
        ) from None
    if not result.is_finite():
        raise WooRestError(400, "rest_invalid_param", f"Invalid parameter(s): {field_name}")
    return result


def invalid_param(name: str, message: str, code: str = "rest_invalid_type") -> WooRestError:
    """The ``rest_invalid_param`` error for one parameter."""
    return WooRestError(
        400,
        "rest_invalid_param",
        f"Invalid parameter(s): {name}",
        {
            "params": {name: message},
            "details": {name: {"code": code, "message": message, "data": None}},
        },
    )


def expect_str(data: Mapping[str, Any], name: str) -> str | None:
    """A string field of a JSON body (None when absent)."""
    if name not in data:
        return None
    value = data[name]
    if not isinstance(value, str):
        raise invalid_param(name, f"{name} is not of type string.")
    return value


def expect_bool(data: Mapping[str, Any], name: str) -> bool | None:
    """A boolean field of a JSON body (None when absent)."""
    if name not in data:
        return None
    value = data[name]
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false", "1", "0", ""}:
        return value.lower() in {"true", "1"}
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise invalid_param(name, f"{name} is not of type boolean.")


def expect_int(data: Mapping[str, Any], name: str, *, nullable: bool = False) -> int | None:
    """An integer field of a JSON body (numeric strings accepted, like WordPress)."""
    value = data[name]
    if value is None and nullable:
        return None
    if isinstance(value, bool):
        raise invalid_param(name, f"{name} is not of type integer.")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    raise invalid_param(name, f"{name} is not of type integer.")


def expect_int_list(data: Mapping[str, Any], name: str) -> list[int] | None:
    """A list of integers from a JSON body (None when absent)."""
    if name not in data:
        return None
    value = data[name]
    if not isinstance(value, list):
        raise invalid_param(name, f"{name} is not of type array.")
    out: list[int] = []
    for i, item in enumerate(value):
        parsed = expect_int({f"{name}[{i}]": item}, f"{name}[{i}]")
        assert parsed is not None
        out.append(parsed)
    return out


def wp_list(items: Sequence[str]) -> str:
    """Join like WordPress ``%l``: ``a and b`` / ``a, b, and c``."""
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2:
        return f"{items[0]} and {items[1]}"
    return ", ".join(items[:-1]) + f", and {items[-1]}"


_WP_DATE_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?)?"
    r"(Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)


def parse_wp_date(raw: str) -> datetime | None:
    """Parse the ISO 8601 forms WordPress accepts (naive unless an offset is given)."""
    match = _WP_DATE_RE.match(raw.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, _frac, offset = match.groups()
    try:
        parsed = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0)
        )
    except ValueError:
        return None
    if offset:
        if offset in ("Z", "z"):
            return parsed.replace(tzinfo=UTC)
        sign = 1 if offset[0] == "+" else -1
        digits = offset[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
        return parsed.replace(tzinfo=timezone(sign * delta))
    return parsed


class QueryParams:
    """Query-parameter validation with WordPress' messages (``rest_invalid_param``).

    Getters record problems instead of raising; :meth:`check` then raises them together,
    as WordPress lists every invalid parameter in one error.
    """

    def __init__(self, query: Mapping[str, Any]) -> None:
        self.query = query
        self.errors: dict[str, tuple[str, str]] = {}

    def _fail(self, name: str, message: str, code: str) -> None:
        self.errors.setdefault(name, (message, code))

    def _scalar(self, name: str) -> str | None:
        value = self.query.get(name)
        if value is None:
            return None
        if isinstance(value, list | dict):
            self._fail(name, f"{name} is not of type {self._type_hint(name)}.", "rest_invalid_type")
            return None
        return str(value)

    @staticmethod
    def _type_hint(name: str) -> str:
        return "integer" if name in {"page", "per_page", "offset", "customer"} else "string"

    def integer(
        self,
        name: str,
        default: int | None,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        """An integer parameter (``absint``-ed), range-checked like WordPress."""
        raw = self._scalar(name)
        if raw is None:
            return default
        if not re.fullmatch(r"\s*-?\d+\s*", raw):
            self._fail(name, f"{name} is not of type integer.", "rest_invalid_type")
            return default
        value = int(raw)
        if minimum is not None and maximum is not None and not minimum <= value <= maximum:
            self._fail(
                name,
                f"{name} must be between {minimum} (inclusive) and {maximum} (inclusive)",
                "rest_out_of_bounds",
            )
            return default
        if minimum is not None and value < minimum:
            self._fail(
                name, f"{name} must be greater than or equal to {minimum}", "rest_out_of_bounds"
            )
            return default
        return abs(value)

    def enum(self, name: str, default: str, choices: Sequence[str]) -> str:
        """One of ``choices``."""
        raw = self._scalar(name)
        if raw is None:
            return default
        if raw not in choices:
            self._fail(name, f"{name} is not one of {wp_list(choices)}.", "rest_not_in_enum")
            return default
        return raw

    def boolean(self, name: str, default: bool) -> bool:
        """``true``/``false``/``1``/``0`` (case-insensitive)."""
        raw = self._scalar(name)
        if raw is None:
            return default
        lowered = raw.lower()
        if lowered in ("1", "true"):
            return True
        if lowered in ("0", "false", ""):
            return False
        self._fail(name, f"{name} is not of type boolean.", "rest_invalid_type")
        return default

    def date(self, name: str) -> datetime | None:
        """An RFC 3339 date-time (aware if it carries an offset, else naive)."""
        raw = self._scalar(name)
        if raw is None:
            return None
        parsed = parse_wp_date(raw)
        if parsed is None or ("T" not in raw.upper() and " " not in raw):
            self._fail(name, "Invalid date.", "rest_invalid_date")
            return None
        return parsed

    def text(self, name: str) -> str | None:
        """A plain string parameter."""
        return self._scalar(name)

    def _items(self, name: str) -> list[str]:
        value = self.query.get(name)
        if value is None:
            return []
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, list):
            return [str(v) for v in value]
        return [v.strip() for v in str(value).split(",") if v.strip()]

    def id_list(self, name: str) -> tuple[int, ...]:
        """IDs as ``1,2,3`` or ``k[]=1&k[]=2`` (``wp_parse_id_list``)."""
        out: list[int] = []
        for item in self._items(name):
            if re.fullmatch(r"-?\d+", item):
                out.append(abs(int(item)))
        return tuple(out)

    def enum_list(
        self, name: str, default: Sequence[str], choices: Sequence[str]
    ) -> tuple[str, ...]:
        """An array-of-enum parameter (comma list or ``k[]=``)."""
        items = self._items(name)
        if not items:
            return tuple(default)
        for i, item in enumerate(items):
            if item not in choices:
                self._fail(
                    name, f"{name}[{i}] is not one of {wp_list(choices)}.", "rest_not_in_enum"
                )
                return tuple(default)
        return tuple(items)

    def check(self) -> None:
        """Raise one ``rest_invalid_param`` listing every invalid parameter."""
        if not self.errors:
            return
        names = list(self.errors)
        raise WooRestError(
            400,
            "rest_invalid_param",
            f"Invalid parameter(s): {', '.join(names)}",
            {
                "params": {n: self.errors[n][0] for n in names},
                "details": {
                    n: {"code": self.errors[n][1], "message": self.errors[n][0], "data": None}
                    for n in names
                },
            },
        )


def page_args(p: QueryParams) -> tuple[int, int, int | None]:
    """``page`` (>= 1), ``per_page`` (1..100, default 10) and ``offset``."""
    page = p.integer("page", 1, minimum=1)
    per_page = p.integer("per_page", 10, 1, 100)
    offset = p.integer("offset", None)
    assert page is not None and per_page is not None
    return page, per_page, offset
