"""Reward catalogue and coupons: what a member can buy with points and what they get."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from loyalty_plugins.domain.money import Money
from loyalty_plugins.errors import InvalidAmount, ValidationError


class RewardKind(StrEnum):
    """The four kinds of coupon a reward can turn into."""

    FIXED_AMOUNT = "fixed_amount"
    PERCENT = "percent"
    FREE_SHIPPING = "free_shipping"
    FREE_PRODUCT = "free_product"


@dataclass(frozen=True, slots=True)
class CouponDefinition:
    """The template a coupon is issued from (what it is worth and how long it lives)."""

    kind: RewardKind
    value: Decimal = Decimal(0)
    currency: str | None = None
    product_id: str | None = None
    minimum_order: Decimal = Decimal(0)
    valid_days: int = 90
    single_use: bool = True
    member_only: bool = True

    def __post_init__(self) -> None:
        if self.kind is RewardKind.FIXED_AMOUNT:
            if self.currency is None or self.value <= 0:
                raise InvalidAmount(
                    "value", "a fixed-amount coupon needs a positive value and currency"
                )
            Money(self.value, self.currency)  # validates the currency and the precision
        if self.kind is RewardKind.PERCENT and not (Decimal(0) < self.value <= Decimal(100)):
            raise InvalidAmount("value", "a percent coupon needs 0 < value <= 100")
        if self.kind is RewardKind.FREE_PRODUCT and not self.product_id:
            raise ValidationError("product_id", "a free-product coupon needs a product")
        if self.valid_days <= 0:
            raise InvalidAmount("valid_days", "must be positive")


@dataclass(frozen=True, slots=True)
class Reward:
    """A catalogue entry: ``cost`` points buy one coupon of ``coupon``."""

    key: str
    name: str
    cost: int
    coupon: CouponDefinition
    tier_required: str | None = None
    active: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.cost, bool) or not isinstance(self.cost, int) or self.cost <= 0:
            raise InvalidAmount("cost", f"reward {self.key}: cost must be a positive integer")


class CouponStatus(StrEnum):
    """Lifecycle of an issued coupon."""

    ISSUED = "issued"
    REDEEMED = "redeemed"
    EXPIRED = "expired"
    VOID = "void"


@dataclass(frozen=True, slots=True)
class IssuedCoupon:
    """A concrete coupon code issued to one member."""

    id: int
    code: str
    member_id: int
    reward_key: str
    kind: RewardKind
    value: Decimal
    currency: str | None
    issued_at: datetime
    expires_at: datetime
    status: CouponStatus
    points_spent: int
