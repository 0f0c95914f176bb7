"""Postings: journal entries with idempotency, transfers between accounts, FIFO lots.

All functions run inside the caller's write transaction after the member's accounts
were locked (:func:`loyalty_plugins.ledger.accounts.lock_members`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from loyalty_plugins.domain.members import Member
from loyalty_plugins.errors import IdempotencyMismatch, MemberNotFound
from loyalty_plugins.ledger.accounts import AccountKind, MemberAccounts
from loyalty_plugins.storage import tables as t
from loyalty_plugins.storage.driver_sql import (
    DriverSQL,
    decode_date,
    decode_datetime,
    decode_optional_datetime,
    insert_sql,
)

# The statements of every posting, as driver SQL: on the ingest path, building Core
# expressions would cost more than running them.
_INSERT_JOURNAL = insert_sql(
    t.journal,
    (
        "idempotency_key",
        "request_hash",
        "kind",
        "member_id",
        "occurred_at",
        "recorded_at",
        "actor",
        "reason",
        "result",
    ),
    returning_id=True,
)
_INSERT_LOT = insert_sql(
    t.lots,
    (
        "member_id",
        "journal_id",
        "order_id",
        "points",
        "remaining",
        "state",
        "earned_at",
        "available_at",
        "expires_at",
    ),
    returning_id=True,
)
_INSERT_TRANSFERS = insert_sql(
    t.transfers, ("journal_id", "source_id", "destination_id", "amount", "lot_id", "memo")
)
_ADD_BALANCE = DriverSQL("UPDATE accounts SET balance = balance + :delta WHERE id = :account_id")
_STORE_RESULT = DriverSQL("UPDATE journal SET result = :result WHERE id = :journal_id")
# One round trip opens every posting: lock the member's accounts (ascending id), read the
# member, and look the idempotency key up. A duplicate that waited on the lock may still
# see the key as unused (the statement's snapshot predates the other commit); its journal
# insert then hits the unique key and Database.write re-runs it, which replays.
_LOCK_FOR_POSTING = DriverSQL(
    "SELECT a.id, a.kind, a.balance, m.email, m.first_name, m.last_name, m.birthday,"
    " m.enrolled_at, m.tier, m.tier_since, m.tier_below_since, m.redacted_at,"
    " j.request_hash, j.result"
    " FROM accounts a JOIN members m ON m.id = a.member_id"
    " LEFT JOIN journal j ON j.idempotency_key = :key"
    " WHERE a.member_id = :member_id ORDER BY a.id",
    postgres_suffix=" FOR UPDATE OF a",
)


@dataclass(slots=True)
class Locked:
    """What :func:`lock_for_posting` returns: locked accounts, the member, any replay."""

    accounts: MemberAccounts
    member: Member
    replay: dict[str, Any] | None


def lock_for_posting(conn: Connection, member_id: int, key: str, digest: str) -> Locked:
    """Lock ``member_id``'s accounts and check ``key`` in one statement.

    Raises :class:`MemberNotFound` for an unknown member and
    :class:`IdempotencyMismatch` when ``key`` was used for other content.
    """
    rows = _LOCK_FOR_POSTING.fetch_all(conn, {"member_id": member_id, "key": key})
    if not rows:
        raise MemberNotFound(member_id)
    accounts = MemberAccounts(member_id, {}, {})
    for row in rows:
        kind = AccountKind(row[1])
        accounts.ids[kind] = int(row[0])
        accounts.balances[kind] = int(row[2])
    first = rows[0]
    member = Member(
        id=member_id,
        email=first[3],
        first_name=first[4],
        last_name=first[5],
        birthday=decode_date(first[6]),
        enrolled_at=decode_datetime(first[7]),
        tier=first[8],
        tier_since=decode_optional_datetime(first[9]),
        tier_below_since=decode_optional_datetime(first[10]),
        redacted=first[11] is not None,
    )
    replay: dict[str, Any] | None = None
    if first[12] is not None:
        if first[12] != digest:
            raise IdempotencyMismatch(key)
        stored = first[13]
        replay = dict(json.loads(stored) if isinstance(stored, str) else stored)
        replay["replayed"] = True
    return Locked(accounts, member, replay)


def request_hash(content: Any) -> str:
    """Stable SHA-256 of a JSON-able request description."""
    encoded = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


@dataclass(slots=True)
class Lot:
    """A FIFO lot as read for consumption."""

    id: int
    remaining: int
    state: str


class Posting:
    """One journal entry being written: its transfers, lots and result."""

    def __init__(
        self,
        conn: Connection,
        system: dict[AccountKind, int],
        accounts: MemberAccounts,
        *,
        key: str,
        digest: str,
        kind: str,
        occurred_at: datetime,
        recorded_at: datetime,
        actor: str | None = None,
        reason: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        self.conn = conn
        self.system = system
        self.accounts = accounts
        self.now = recorded_at
        self.journal_id = _INSERT_JOURNAL.insert_id(
            conn,
            {
                "idempotency_key": key,
                "request_hash": digest,
                "kind": kind,
                "member_id": accounts.member_id,
                "occurred_at": occurred_at,
                "recorded_at": recorded_at,
                "actor": actor,
                "reason": reason,
                "result": result or {},
            },
        )
        self._result = result
        self._deltas: dict[int, int] = {}
        self._transfers: list[dict[str, Any]] = []

    def _account(self, kind: AccountKind) -> int:
        return self.accounts.ids[kind] if kind in self.accounts.ids else self.system[kind]

    def transfer(
        self,
        source: AccountKind,
        destination: AccountKind,
        amount: int,
        memo: str,
        lot_id: int | None = None,
    ) -> None:
        """Move ``amount`` points; member balances are updated once, at :meth:`finish`."""
        if amount <= 0:
            return
        src, dst = self._account(source), self._account(destination)
        self._transfers.append(
            {
                "journal_id": self.journal_id,
                "source_id": src,
                "destination_id": dst,
                "amount": amount,
                "lot_id": lot_id,
                "memo": memo,
            }
        )
        for kind, sign in ((source, -1), (destination, 1)):
            if kind in self.accounts.ids:
                self.accounts.balances[kind] += sign * amount
                account_id = self.accounts.ids[kind]
                self._deltas[account_id] = self._deltas.get(account_id, 0) + sign * amount

    def add_lot(
        self,
        points: int,
        *,
        state: str,
        earned_at: datetime,
        available_at: datetime,
        expires_at: datetime | None,
        order_id: int | None,
    ) -> int:
        """Create a lot of ``points`` (the caller transfers them into the lot's account)."""
        return _INSERT_LOT.insert_id(
            self.conn,
            {
                "member_id": self.accounts.member_id,
                "journal_id": self.journal_id,
                "order_id": order_id,
                "points": points,
                "remaining": points,
                "state": state,
                "earned_at": earned_at,
                "available_at": available_at,
                "expires_at": expires_at,
            },
        )

    def take_from_lot(self, lot: Lot, amount: int, sink: AccountKind, memo: str) -> int:
        """Take up to ``amount`` from ``lot`` into ``sink``; returns what was taken."""
        taken = min(amount, lot.remaining)
        if taken <= 0:
            return 0
        source = AccountKind.PENDING if lot.state == "pending" else AccountKind.AVAILABLE
        self.conn.execute(
            update(t.lots).where(t.lots.c.id == lot.id).values(remaining=t.lots.c.remaining - taken)
        )
        lot.remaining -= taken
        self.transfer(source, sink, taken, memo, lot.id)
        return taken

    def consume_fifo(
        self, amount: int, sink: AccountKind, memo: str, *, exclude_lot: int | None = None
    ) -> int:
        """Take up to ``amount`` from available lots, oldest first; returns what was taken."""
        if amount <= 0:
            return 0
        rows = self.conn.execute(
            select(t.lots.c.id, t.lots.c.remaining, t.lots.c.state)
            .where(
                t.lots.c.member_id == self.accounts.member_id,
                t.lots.c.state == "available",
                t.lots.c.remaining > 0,
            )
            .order_by(t.lots.c.earned_at, t.lots.c.id)
        ).all()
        taken = 0
        for row in rows:
            if taken >= amount:
                break
            if row.id == exclude_lot:
                continue
            taken += self.take_from_lot(
                Lot(row.id, row.remaining, row.state), amount - taken, sink, memo
            )
        return taken

    def finish(self, result: dict[str, Any] | None = None) -> dict[str, Any]:
        """Write transfers and balance changes; store ``result`` for replays.

        Without ``result`` the one given at construction (already stored with the journal
        entry) stands, which saves a statement on the ingest path.
        """
        if self._transfers:
            _INSERT_TRANSFERS.execute_many(self.conn, self._transfers)
        for account_id, delta in sorted(self._deltas.items()):
            if delta:
                _ADD_BALANCE.execute(self.conn, {"account_id": account_id, "delta": delta})
        if result is None:
            return dict(self._result or {}, journal_id=self.journal_id, replayed=False)
        stored = dict(result, journal_id=self.journal_id)
        _STORE_RESULT.execute(self.conn, {"journal_id": self.journal_id, "result": stored})
        return dict(stored, replayed=False)
