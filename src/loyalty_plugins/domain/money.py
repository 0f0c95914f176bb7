"""Money as ``Decimal`` plus an ISO 4217 currency, quantized in exactly one place."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import cache, lru_cache

from babel.numbers import get_currency_precision, list_currencies

from loyalty_plugins.errors import CurrencyMismatch, InvalidAmount, UnknownCurrency

#: Rounding used for money everywhere unless a caller asks for another mode on purpose.
MONEY_ROUNDING = ROUND_HALF_EVEN

_MAX_ABS = Decimal("1e15")


@cache
def _known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


@lru_cache(maxsize=512)
def currency_exponent(code: str) -> int:
    """Number of minor-unit digits of ``code`` (EUR 2, JPY 0, KWD 3)."""
    return int(get_currency_precision(normalize_currency(code)))


def normalize_currency(code: object) -> str:
    """Return the upper-case ISO 4217 code or raise :class:`UnknownCurrency`."""
    if not isinstance(code, str):
        raise UnknownCurrency(code)
    upper = code.strip().upper()
    if len(upper) != 3 or upper not in _known_currencies():
        raise UnknownCurrency(code)
    return upper


def to_decimal(value: object, field: str = "amount") -> Decimal:
    """Parse ``value`` (str, int or Decimal; never float) into a finite Decimal."""
    if isinstance(value, bool | float):
        raise InvalidAmount(field, f"{value!r} is a {type(value).__name__}; pass str or Decimal")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | str):
        try:
            result = Decimal(value.strip() if isinstance(value, str) else value)
        except InvalidOperation:
            raise InvalidAmount(field, f"{value!r} is not a number") from None
    else:
        raise InvalidAmount(field, f"{value!r} is not a number")
    if not result.is_finite():
        raise InvalidAmount(field, f"{value!r} is not finite")
    if abs(result) >= _MAX_ABS:
        raise InvalidAmount(field, f"{value!r} is out of range")
    return result


def quantize(amount: Decimal, currency: str, rounding: str = MONEY_ROUNDING) -> Decimal:
    """Round ``amount`` to the minor unit of ``currency``; the one quantization point."""
    exp = currency_exponent(currency)
    return amount.quantize(Decimal(1).scaleb(-exp), rounding=rounding)


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount in one currency.

    Construction quantizes to the currency's minor unit and refuses floats, non-finite
    values and unknown currencies. Arithmetic refuses to mix currencies.
    """

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        currency = normalize_currency(self.currency)
        object.__setattr__(self, "currency", currency)
        object.__setattr__(self, "amount", quantize(to_decimal(self.amount), currency))

    @classmethod
    def of(cls, amount: object, currency: str) -> Money:
        """Build from a string, int or Decimal, e.g. ``Money.of("29.35", "EUR")``."""
        return cls(to_decimal(amount), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Zero in ``currency``."""
        return cls(Decimal(0), currency)

    def _same(self, other: Money, op: str) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot {op} Money and {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(self.currency, other.currency, op)

    def __add__(self, other: Money) -> Money:
        self._same(other, "add")
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other, "subtract")
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other, "compare")
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other, "compare")
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other, "compare")
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other, "compare")
        return self.amount >= other.amount

    def times(self, factor: Decimal | int) -> Money:
        """Multiply by an exact factor (quantized with the money rounding)."""
        if isinstance(factor, float):
            raise InvalidAmount("factor", "floats are not accepted")
        return Money(self.amount * Decimal(factor), self.currency)

    def is_zero(self) -> bool:
        """True when the amount is zero."""
        return self.amount == 0

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


def to_minor(money: Money) -> int:
    """Integer minor units (cents) of ``money``: how amounts are stored."""
    return int(money.amount.scaleb(currency_exponent(money.currency)))


def from_minor(minor: int, currency: str) -> Money:
    """Inverse of :func:`to_minor`."""
    return Money(Decimal(int(minor)).scaleb(-currency_exponent(currency)), currency)
