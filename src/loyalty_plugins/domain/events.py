"""Domain events written to the outbox and dispatched to ``loyalty_on_*`` hooks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class EventKind(StrEnum):
    """Every event the core emits; each maps to the hook ``loyalty_on_<value>``."""

    ORDER_PAID = "order_paid"
    ORDER_REFUNDED = "order_refunded"
    POINTS_EARNED = "points_earned"
    POINTS_REDEEMED = "points_redeemed"
    POINTS_REVERSED = "points_reversed"
    POINTS_EXPIRED = "points_expired"
    TIER_CHANGED = "tier_changed"
    COUPON_ISSUED = "coupon_issued"
    COUPON_REDEEMED = "coupon_redeemed"
    MEMBER_ENROLLED = "member_enrolled"
    MEMBER_REDACTED = "member_redacted"


@dataclass(frozen=True, slots=True)
class LoyaltyEvent:
    """Something that happened, after it was committed."""

    id: int
    kind: EventKind
    member_id: int | None
    occurred_at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)
