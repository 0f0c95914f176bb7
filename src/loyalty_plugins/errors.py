"""One exception root for everything the library raises on purpose.

Leaves are named by cause and carry the data a caller needs to react; nothing in the
library returns ``(ok, message)`` tuples.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any


class LoyaltyError(Exception):
    """Root of every error raised deliberately by loyalty_plugins."""


class ConfigError(LoyaltyError):
    """Configuration is missing or invalid; names the key and the file."""

    def __init__(self, message: str, *, key: str | None = None, path: str | None = None) -> None:
        where = ""
        if key and path:
            where = f"{path}: [{key}] "
        elif key:
            where = f"[{key}] "
        elif path:
            where = f"{path}: "
        super().__init__(f"{where}{message}")
        self.key = key
        self.path = path


class ValidationError(LoyaltyError):
    """A value handed to the library is not acceptable (names the field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class UnknownCurrency(ValidationError):
    """The currency code is not an ISO 4217 code."""

    def __init__(self, code: object) -> None:
        super().__init__("currency", f"unknown currency code {code!r}")
        self.code = code


class CurrencyMismatch(LoyaltyError):
    """Two amounts (or an order and the program) are in different currencies."""

    def __init__(self, left: str, right: str, context: str = "") -> None:
        suffix = f" ({context})" if context else ""
        super().__init__(f"cannot combine {left} with {right}{suffix}")
        self.left = left
        self.right = right


class InvalidAmount(ValidationError):
    """A money amount or points value is negative, non-finite or otherwise unusable."""


class IdempotencyMismatch(LoyaltyError):
    """The idempotency key was used before with different content."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"idempotency key {key!r} was already used with a different request; "
            "refusing to apply it twice"
        )
        self.key = key


class NotFound(LoyaltyError):
    """A member, order, reward or coupon does not exist."""

    def __init__(self, kind: str, ref: object) -> None:
        super().__init__(f"{kind} {ref!r} not found")
        self.kind = kind
        self.ref = ref


class MemberNotFound(NotFound):
    """No member with that id or external reference."""

    def __init__(self, ref: object) -> None:
        super().__init__("member", ref)


class OrderNotFound(NotFound):
    """The order being refunded was never recorded."""

    def __init__(self, ref: object) -> None:
        super().__init__("order", ref)


class RewardNotFound(NotFound):
    """No reward with that key in the catalogue."""

    def __init__(self, ref: object) -> None:
        super().__init__("reward", ref)


class InsufficientPoints(LoyaltyError):
    """The member's available balance does not cover the request."""

    def __init__(self, member_id: int, requested: int, available: int) -> None:
        super().__init__(
            f"member {member_id} has {available} available points, {requested} requested"
        )
        self.member_id = member_id
        self.requested = requested
        self.available = available


class RefundExceedsOrder(LoyaltyError):
    """The refunds of an order would add up to more than the order's paid amount."""

    def __init__(self, order_ref: str, refunded: Decimal, paid: Decimal) -> None:
        super().__init__(
            f"order {order_ref}: refunds would total {refunded}, more than the {paid} paid"
        )
        self.order_ref = order_ref
        self.refunded = refunded
        self.paid = paid


class Refused(LoyaltyError):
    """A ``loyalty_check_*`` hook vetoed the operation."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.reason = message


class CouponNotApplicable(Refused):
    """A coupon cannot be used here (expired, other member, already used...)."""


class ConcurrencyConflict(LoyaltyError):
    """A write kept losing to concurrent writers after the allowed retries."""


class PluginError(LoyaltyError):
    """A plugin is broken (duplicate registration, bad return value...)."""


class SyncError(LoyaltyError):
    """A store sync or HTTP exchange failed."""


class RateLimited(SyncError):
    """The platform asked us to slow down and the wait exceeds what we allow."""

    def __init__(self, retry_after: float | None, message: str = "") -> None:
        super().__init__(message or f"rate limited; retry after {retry_after} s")
        self.retry_after = retry_after


class TransientHttpError(SyncError):
    """A request kept failing with retryable errors (connection, 5xx, 429)."""

    def __init__(self, message: str, *, status: int | None = None, attempts: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts


class PlatformError(SyncError):
    """The platform answered with a non-retryable error (4xx envelope)."""

    def __init__(self, status: int, code: str, message: str, payload: Any = None) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.payload = payload


class MappingError(SyncError):
    """A platform payload cannot be mapped to a snapshot; the payload is quarantined."""

    def __init__(self, reason: str, *, path: str = "") -> None:
        super().__init__(f"{path}: {reason}" if path else reason)
        self.reason = reason
        self.path = path


class LockBusy(SyncError):
    """Another run holds the store's sync lock."""
