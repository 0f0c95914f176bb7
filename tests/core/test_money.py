from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyalty_plugins.domain.money import Money, from_minor, quantize, to_minor
from loyalty_plugins.errors import CurrencyMismatch, InvalidAmount, LoyaltyError, UnknownCurrency


def test_quantizes_per_currency_with_half_even() -> None:
    assert Money.of("29.355", "EUR").amount == Decimal("29.36")
    assert Money.of("29.345", "EUR").amount == Decimal("29.34")
    assert Money.of("1500.4", "JPY").amount == Decimal("1500")
    assert Money.of("1.2345", "KWD").amount == Decimal("1.234")


def test_currency_is_normalized_and_validated() -> None:
    assert Money.of("1", "eur").currency == "EUR"
    with pytest.raises(UnknownCurrency, match="'ZZZ'"):
        Money.of("1", "ZZZ")
    with pytest.raises(UnknownCurrency):
        Money.of("1", 978)  # type: ignore[arg-type]


def test_refuses_mixed_currencies() -> None:
    with pytest.raises(CurrencyMismatch, match="EUR with USD"):
        Money.of("1", "EUR") + Money.of("1", "USD")
    with pytest.raises(CurrencyMismatch):
        _ = Money.of("1", "EUR") < Money.of("2", "USD")


@pytest.mark.parametrize("bad", [1.5, "NaN", "Infinity", "-inf", "abc", True, None, "1e400"])
def test_refuses_floats_and_non_finite(bad: object) -> None:
    with pytest.raises(InvalidAmount):
        Money.of(bad, "EUR")


def test_errors_share_one_root() -> None:
    assert issubclass(UnknownCurrency, LoyaltyError)
    assert issubclass(CurrencyMismatch, LoyaltyError)


@given(st.decimals(min_value=-(10**9), max_value=10**9, allow_nan=False, places=4))
def test_minor_units_round_trip(value: Decimal) -> None:
    money = Money(value, "EUR")
    assert from_minor(to_minor(money), "EUR") == money
    assert money.amount == quantize(value, "EUR")


@given(
    st.decimals(min_value=0, max_value=10**6, allow_nan=False, places=2),
    st.decimals(min_value=0, max_value=10**6, allow_nan=False, places=2),
)
def test_addition_is_exact(a: Decimal, b: Decimal) -> None:
    assert (Money(a, "EUR") + Money(b, "EUR")).amount == a + b
