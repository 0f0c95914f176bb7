"""What each operation returns (plain frozen values, safe to log and compare)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class OrderResult:
    """Outcome of :meth:`LoyaltyProgram.record_order`."""

    order_key: str
    status: str  # awarded | not_paid | void | skipped
    member_id: int | None = None
    points: int = 0
    replayed: bool = False
    tier: str | None = None


@dataclass(frozen=True, slots=True)
class RefundResult:
    """Outcome of :meth:`LoyaltyProgram.record_refund`."""

    refund_key: str
    member_id: int
    points_reversed: int
    points_forgiven: int = 0
    debt_added: int = 0
    replayed: bool = False
    tier: str | None = None


@dataclass(frozen=True, slots=True)
class AdjustResult:
    """Outcome of :meth:`LoyaltyProgram.adjust`."""

    member_id: int
    points: int
    journal_id: int
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class Balance:
    """A member's points right now."""

    member_id: int
    available: int
    pending: int
    debt: int

    @property
    def spendable(self) -> int:
        """Available net of debt (what a redemption may use)."""
        return self.available + self.debt


@dataclass(frozen=True, slots=True)
class LotView:
    """One lot of a member's points."""

    id: int
    points: int
    remaining: int
    state: str
    earned_at: datetime
    available_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One journal entry as the member sees it (net effect on their points)."""

    journal_id: int
    kind: str
    occurred_at: datetime
    available_change: int
    pending_change: int
    debt_change: int
    reason: str | None = None
    actor: str | None = None


@dataclass(frozen=True, slots=True)
class MaintenanceResult:
    """Outcome of :meth:`LoyaltyProgram.expire_due`."""

    members: int = 0
    matured_lots: int = 0
    matured_points: int = 0
    expired_lots: int = 0
    expired_points: int = 0


@dataclass(frozen=True, slots=True)
class TierRunResult:
    """Outcome of :meth:`LoyaltyProgram.evaluate_tiers`."""

    evaluated: int = 0
    upgraded: int = 0
    downgraded: int = 0
    in_grace: int = 0
    changes: tuple[tuple[int, str | None, str | None], ...] = field(default=())
