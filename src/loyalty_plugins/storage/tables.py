"""Every table, as SQLAlchemy Core. Invariants the ledger relies on are constraints here.

Money is stored as integer minor units (``*_minor``, cents for EUR) next to its currency:
exact on every backend (SQLite has no decimal type) and summable in SQL. Points are
``BigInteger``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite only autoincrements INTEGER
Minor = BigInteger


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend.

    SQLite has no time zones, so values are stored as naive UTC; a naive value handed in
    is refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"expected an aware datetime, got {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


Stamp = UtcDateTime()

members = Table(
    "members",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("email", String(320), index=True),
    Column("first_name", String(200)),
    Column("last_name", String(200)),
    Column("birthday", Date),
    Column("enrolled_at", Stamp, nullable=False),
    Column("tier", String(64)),
    Column("tier_since", Stamp),
    Column("tier_below_since", Stamp),
    Column("redacted_at", Stamp),
)

member_refs = Table(
    "member_refs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("member_id", ForeignKey("members.id"), nullable=False, index=True),
    Column("platform", String(32), nullable=False),
    Column("store", String(128), nullable=False),
    Column("external_id", String(128), nullable=False),
    UniqueConstraint("platform", "store", "external_id", name="uq_member_refs_source"),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("member_id", ForeignKey("members.id"), nullable=True),
    Column("kind", String(32), nullable=False),
    Column("balance", BigInteger, nullable=False, default=0),
    Column("allow_negative", Boolean, nullable=False, default=False),
    UniqueConstraint("member_id", "kind", name="uq_accounts_member_kind"),
    CheckConstraint("allow_negative OR balance >= 0", name="balance_not_negative"),
)

journal = Table(
    "journal",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(255), nullable=False, unique=True),
    Column("request_hash", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("member_id", ForeignKey("members.id"), index=True),
    Column("occurred_at", Stamp, nullable=False),
    Column("recorded_at", Stamp, nullable=False),
    Column("actor", String(128)),
    Column("reason", Text),
    Column("reverses_id", ForeignKey("journal.id")),
    Column("result", JSON, nullable=False),
)

lots = Table(
    "lots",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("member_id", ForeignKey("members.id"), nullable=False),
    Column("journal_id", ForeignKey("journal.id"), nullable=False),
    Column("order_id", ForeignKey("orders.id")),
    Column("points", BigInteger, nullable=False),
    Column("remaining", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),  # pending | available
    Column("earned_at", Stamp, nullable=False),
    Column("available_at", Stamp, nullable=False),
    Column("expires_at", Stamp),
    CheckConstraint("points > 0", name="points_positive"),
    CheckConstraint("remaining >= 0 AND remaining <= points", name="remaining_in_range"),
    Index("ix_lots_member_state", "member_id", "state", "earned_at"),
    Index("ix_lots_due", "state", "available_at"),
    Index("ix_lots_expiry", "expires_at"),
)

transfers = Table(
    "transfers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("journal_id", ForeignKey("journal.id"), nullable=False, index=True),
    Column("source_id", ForeignKey("accounts.id"), nullable=False, index=True),
    Column("destination_id", ForeignKey("accounts.id"), nullable=False, index=True),
    Column("amount", BigInteger, nullable=False),
    Column("lot_id", ForeignKey("lots.id")),
    Column("memo", String(64), nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("source_id <> destination_id", name="distinct_accounts"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source_key", String(255), nullable=False, unique=True),
    Column("member_id", ForeignKey("members.id"), nullable=False, index=True),
    Column("platform", String(32), nullable=False),
    Column("store", String(128), nullable=False),
    Column("external_id", String(128), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("total_minor", Minor, nullable=False),
    Column("qualifying_minor", Minor, nullable=False),
    Column("refunded_minor", Minor, nullable=False, default=0),
    Column("net_qualifying_minor", Minor, nullable=False),
    Column("points_awarded", BigInteger, nullable=False),
    Column("points_reversed", BigInteger, nullable=False, default=0),
    Column("points_forgiven", BigInteger, nullable=False, default=0),
    Column("rule", JSON, nullable=False),
    Column("paid_at", Stamp, nullable=False),
    Column("journal_id", ForeignKey("journal.id"), nullable=False),
    CheckConstraint(
        "refunded_minor >= 0 AND refunded_minor <= total_minor", name="refund_within_total"
    ),
    CheckConstraint(
        "points_reversed >= 0 AND points_reversed <= points_awarded", name="reversal_within_award"
    ),
    Index("ix_orders_member_paid", "member_id", "paid_at"),
)

refunds = Table(
    "refunds",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source_key", String(255), nullable=False, unique=True),
    Column("order_id", ForeignKey("orders.id"), nullable=False, index=True),
    Column("amount_minor", Minor, nullable=False),
    Column("points_reversed", BigInteger, nullable=False),
    Column("created_at", Stamp, nullable=False),
    Column("reason", Text),
    Column("journal_id", ForeignKey("journal.id"), nullable=False),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
)

coupons = Table(
    "coupons",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("member_id", ForeignKey("members.id"), nullable=False, index=True),
    Column("reward_key", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("value", String(32), nullable=False),  # exact Decimal text: "5.00", "10"
    Column("currency", String(3)),
    Column("product_id", String(128)),
    Column("minimum_order", String(32), nullable=False, default="0"),
    Column("points_spent", BigInteger, nullable=False),
    Column("issued_at", Stamp, nullable=False),
    Column("expires_at", Stamp, nullable=False),
    Column("status", String(16), nullable=False),
    Column("journal_id", ForeignKey("journal.id"), nullable=False),
    Column("redeemed_at", Stamp),
    Column("redeemed_order", String(255)),
)

tier_changes = Table(
    "tier_changes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("member_id", ForeignKey("members.id"), nullable=False, index=True),
    Column("from_tier", String(64)),
    Column("to_tier", String(64)),
    Column("reason", String(32), nullable=False),
    Column("qualifying", String(32), nullable=False),
    Column("changed_at", Stamp, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("member_id", BigInteger),
    Column("occurred_at", Stamp, nullable=False),
    Column("data", JSON, nullable=False),
    Column("dispatched_at", Stamp),
    Column("failures", JSON),
    Index("ix_outbox_pending", "dispatched_at", "id"),
)

# --------------------------------------------------------------------------- sync

sync_checkpoints = Table(
    "sync_checkpoints",
    metadata,
    Column("store", String(128), primary_key=True),
    Column("resource", String(32), primary_key=True),
    Column("position", String(255), nullable=False),  # e.g. ISO modified-after instant
    Column("updated_at", Stamp, nullable=False),
)

sync_locks = Table(
    "sync_locks",
    metadata,
    Column("store", String(128), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("acquired_at", Stamp, nullable=False),
    Column("expires_at", Stamp, nullable=False),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("platform", String(32), nullable=False),
    Column("store", String(128), nullable=False),
    Column("resource", String(32), nullable=False),  # order | refund | customer | webhook
    Column("external_id", String(128)),
    Column("payload", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("status", String(16), nullable=False),  # held | open | resolved | dropped
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", Stamp, nullable=False),
    Column("updated_at", Stamp, nullable=False),
    Index("ix_quarantine_status", "status", "store"),
)

inbox = Table(
    "inbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("platform", String(32), nullable=False),
    Column("store", String(128), nullable=False),
    Column("delivery_id", String(128), nullable=False),
    Column("topic", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("received_at", Stamp, nullable=False),
    Column("status", String(16), nullable=False),  # pending | processed | quarantined
    Column("processed_at", Stamp),
    Column("error", Text),
    UniqueConstraint("platform", "store", "delivery_id", name="uq_inbox_delivery"),
    Index("ix_inbox_pending", "status", "id"),
)

store_pushes = Table(
    "store_pushes",
    metadata,
    Column("store", String(128), primary_key=True),
    Column("member_id", ForeignKey("members.id"), primary_key=True),
    Column("balance", BigInteger, nullable=False),
    Column("tier", String(64)),
    Column("pushed_at", Stamp, nullable=False),
)

coupon_pushes = Table(
    "coupon_pushes",
    metadata,
    Column("coupon_id", ForeignKey("coupons.id"), primary_key=True),
    Column("store", String(128), primary_key=True),
    Column("external_id", String(128), nullable=False),
    Column("pushed_at", Stamp, nullable=False),
)
