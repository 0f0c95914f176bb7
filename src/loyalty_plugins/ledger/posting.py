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

from sqlalchemy import JSON, BigInteger, Connection, bindparam, insert, select, update

from loyalty_plugins.errors import IdempotencyMismatch
from loyalty_plugins.ledger.accounts import AccountKind, MemberAccounts
from loyalty_plugins.storage import tables as t
from loyalty_plugins.storage.database import inserted_id

# Statements built once: on the ingest path, building SQL expressions costs more than
# running them.
_INSERT_JOURNAL = insert(t.journal)
_INSERT_LOT = insert(t.lots)
_INSERT_TRANSFERS = insert(t.transfers)
_ADD_BALANCE = (
    update(t.accounts)
    .where(t.accounts.c.id == bindparam("account_id"))
    .values(balance=t.accounts.c.balance + bindparam("delta", type_=BigInteger))
)
_STORE_RESULT = (
    update(t.journal)
    .where(t.journal.c.id == bindparam("journal_id"))
    .values(result=bindparam("result", type_=JSON))
)
_FIND_REPLAY = select(t.journal.c.request_hash, t.journal.c.result).where(
    t.journal.c.idempotency_key == bindparam("key")
)


def request_hash(content: Any) -> str:
    """Stable SHA-256 of a JSON-able request description."""
    encoded = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def find_replay(conn: Connection, key: str, digest: str) -> dict[str, Any] | None:
    """The stored result of an earlier posting with ``key``, or None if it is new.

    Raises :class:`IdempotencyMismatch` when the key was used for other content.
    """
    row = conn.execute(_FIND_REPLAY, {"key": key}).first()
    if row is None:
        return None
    if row.request_hash != digest:
        raise IdempotencyMismatch(key)
    result: dict[str, Any] = dict(row.result)
    result["replayed"] = True
    return result


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
    ) -> None:
        self.conn = conn
        self.system = system
        self.accounts = accounts
        self.now = recorded_at
        self.journal_id = inserted_id(
            conn.execute(
                _INSERT_JOURNAL,
                {
                    "idempotency_key": key,
                    "request_hash": digest,
                    "kind": kind,
                    "member_id": accounts.member_id,
                    "occurred_at": occurred_at,
                    "recorded_at": recorded_at,
                    "actor": actor,
                    "reason": reason,
                    "result": {},
                },
            )
        )
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
        return inserted_id(
            self.conn.execute(
                _INSERT_LOT,
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

    def finish(self, result: dict[str, Any]) -> dict[str, Any]:
        """Write transfers and balance changes and store ``result`` for replays."""
        if self._transfers:
            self.conn.execute(_INSERT_TRANSFERS, self._transfers)
        for account_id, delta in sorted(self._deltas.items()):
            if delta:
                self.conn.execute(_ADD_BALANCE, {"account_id": account_id, "delta": delta})
        stored = dict(result, journal_id=self.journal_id)
        self.conn.execute(_STORE_RESULT, {"journal_id": self.journal_id, "result": stored})
        return dict(stored, replayed=False)
