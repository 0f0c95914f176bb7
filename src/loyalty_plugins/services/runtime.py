"""What every service needs: database, hooks, configuration, clock and system accounts."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select

from loyalty_plugins.clock import Clock, as_utc
from loyalty_plugins.config import ProgramConfig
from loyalty_plugins.domain.events import EventKind
from loyalty_plugins.domain.members import Member
from loyalty_plugins.domain.rewards import Reward
from loyalty_plugins.domain.rules import EarnRule
from loyalty_plugins.domain.tiers import TierLadder
from loyalty_plugins.errors import MemberNotFound
from loyalty_plugins.hooks import Hooks
from loyalty_plugins.ledger.accounts import AccountKind, MemberAccounts
from loyalty_plugins.ledger.posting import Posting
from loyalty_plugins.storage import tables as t
from loyalty_plugins.storage.database import Database
from loyalty_plugins.storage.driver_sql import insert_sql


class RefCache:
    """Bounded map of store references to member ids.

    References never move to another member once written, so a cached hit is always
    right; it saves a round trip per order on the hot ingest path.
    """

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._data: OrderedDict[tuple[str, str, str], int] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, ref: tuple[str, str, str]) -> int | None:
        """Cached member id of ``ref``."""
        with self._lock:
            value = self._data.get(ref)
            if value is not None:
                self._data.move_to_end(ref)
            return value

    def put(self, ref: tuple[str, str, str], member_id: int) -> None:
        """Remember ``ref``; the oldest entry goes when full."""
        with self._lock:
            self._data[ref] = member_id
            self._data.move_to_end(ref)
            while len(self._data) > self._size:
                self._data.popitem(last=False)


@dataclass
class Runtime:
    """Shared state of one open program."""

    db: Database
    hooks: Hooks
    config: ProgramConfig
    clock: Clock
    system: dict[AccountKind, int]
    has_subscribers: bool = False
    member_refs: RefCache = field(default_factory=RefCache)
    earn_rule: EarnRule = field(init=False)
    ladder: TierLadder = field(init=False)
    catalogue: dict[str, Reward] = field(init=False)

    def __post_init__(self) -> None:
        # Built once per program: the config is immutable and these sit on the hot path.
        self.earn_rule = self.config.earn_rule()
        self.ladder = self.config.tier_ladder()
        self.catalogue = self.config.reward_catalogue()

    def now(self) -> datetime:
        """Current time from the program clock."""
        return self.clock.now()


def _opt_utc(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


def member_from_row(row: Any) -> Member:
    """Build a :class:`Member` from a ``members`` row."""
    return Member(
        id=row.id,
        email=row.email,
        first_name=row.first_name,
        last_name=row.last_name,
        enrolled_at=as_utc(row.enrolled_at),
        tier=row.tier,
        tier_since=_opt_utc(row.tier_since),
        tier_below_since=_opt_utc(row.tier_below_since),
        birthday=row.birthday,
        redacted=row.redacted_at is not None,
    )


_LOAD_MEMBER = select(t.members).where(t.members.c.id == bindparam("member_id"))


def load_member(conn: Connection, member_id: int) -> Member:
    """The member with ``member_id`` or :class:`MemberNotFound`."""
    row = conn.execute(_LOAD_MEMBER, {"member_id": member_id}).first()
    if row is None:
        raise MemberNotFound(member_id)
    return member_from_row(row)


_INSERT_OUTBOX = insert_sql(t.outbox, ("kind", "member_id", "occurred_at", "data", "dispatched_at"))


def emit(
    rt: Runtime,
    conn: Connection,
    kind: EventKind | tuple[EventKind, ...],
    member_id: int | None,
    data: dict[str, Any],
) -> None:
    """Write an event to the outbox inside the current transaction.

    With no ``loyalty_on_*`` subscriber installed the row is written as dispatched, so
    the outbox stays an audit trail without costing a second round trip.
    """
    now = rt.now()
    kinds = kind if isinstance(kind, tuple) else (kind,)
    dispatched = None if rt.has_subscribers else now
    encoded = json.dumps(data, separators=(",", ":"))  # once, shared by every row
    _INSERT_OUTBOX.execute_many(
        conn,
        [
            {
                "kind": k.value,
                "member_id": member_id,
                "occurred_at": now,
                "data": encoded,
                "dispatched_at": dispatched,
            }
            for k in kinds
        ],
    )


def start_posting(
    rt: Runtime,
    conn: Connection,
    accounts: MemberAccounts,
    *,
    key: str,
    digest: str,
    kind: str,
    occurred_at: datetime | None = None,
    **extra: Any,
) -> Posting:
    """Open a journal entry for ``accounts`` (recorded now; occurred now unless given)."""
    now = rt.now()
    return Posting(
        conn,
        rt.system,
        accounts,
        key=key,
        digest=digest,
        kind=kind,
        occurred_at=occurred_at or now,
        recorded_at=now,
        **extra,
    )
