"""Tier ladder: thresholds on rolling spend or points, with a grace period on the way down."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from loyalty_plugins.errors import ValidationError

TierBasis = Literal["spend", "points"]


@dataclass(frozen=True, slots=True)
class Tier:
    """One rung: reached when the qualifying value is at least ``threshold``."""

    key: str
    name: str
    threshold: Decimal
    earn_multiplier: Decimal = Decimal(1)


@dataclass(frozen=True, slots=True)
class TierDecision:
    """Result of evaluating one member: the tier to hold and why."""

    tier: str | None
    below_since: datetime | None
    reason: str


@dataclass(frozen=True, slots=True)
class TierLadder:
    """Ordered tiers plus the rules for moving between them.

    Upgrades apply at once. A member whose value falls below their tier keeps it for
    ``grace_days`` (counted from the first evaluation that saw them below), then drops to
    the tier the value supports. A drop caused by a refund skips the grace period when
    ``refund_downgrade_immediate`` is set: the tier was never truly earned.
    """

    tiers: tuple[Tier, ...]
    basis: TierBasis = "spend"
    window_days: int = 365
    grace_days: int = 30
    refund_downgrade_immediate: bool = True

    def __post_init__(self) -> None:
        keys = [t.key for t in self.tiers]
        if len(set(keys)) != len(keys):
            raise ValidationError("tiers", "tier keys must be unique")
        ordered = tuple(sorted(self.tiers, key=lambda t: t.threshold))
        if [t.threshold for t in ordered] != sorted({t.threshold for t in ordered}):
            raise ValidationError("tiers", "thresholds must be distinct")
        object.__setattr__(self, "tiers", ordered)
        if self.window_days <= 0 or self.grace_days < 0:
            raise ValidationError("tiers", "window_days must be > 0 and grace_days >= 0")

    def rank(self, key: str | None) -> int:
        """Position of a tier (-1 for none or an unknown key)."""
        for index, tier in enumerate(self.tiers):
            if tier.key == key:
                return index
        return -1

    def get(self, key: str | None) -> Tier | None:
        """The tier called ``key``, if any."""
        return next((t for t in self.tiers if t.key == key), None)

    def tier_for(self, value: Decimal) -> Tier | None:
        """Highest tier whose threshold ``value`` reaches."""
        reached = [t for t in self.tiers if value >= t.threshold]
        return reached[-1] if reached else None

    def next_tier(self, key: str | None) -> Tier | None:
        """The tier above ``key`` (the first tier when ``key`` is None)."""
        index = self.rank(key) + 1
        return self.tiers[index] if index < len(self.tiers) else None

    def evaluate(
        self,
        current: str | None,
        below_since: datetime | None,
        value: Decimal,
        now: datetime,
        *,
        after_refund: bool = False,
    ) -> TierDecision:
        """Decide the tier to hold now."""
        target = self.tier_for(value)
        target_key = target.key if target else None
        if self.rank(target_key) >= self.rank(current):
            reason = "upgrade" if self.rank(target_key) > self.rank(current) else "unchanged"
            return TierDecision(target_key, None, reason)
        if after_refund and self.refund_downgrade_immediate:
            return TierDecision(target_key, None, "refund")
        started = below_since or now
        if now - started >= timedelta(days=self.grace_days):
            return TierDecision(target_key, None, "downgrade")
        return TierDecision(current, started, "grace")
