"""Account kinds and the row locks that serialize writers per member."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection, bindparam, insert, select

from loyalty_plugins.errors import MemberNotFound
from loyalty_plugins.storage import tables as t


class AccountKind(StrEnum):
    """Member accounts hold a member's points; system accounts are sources and sinks."""

    PENDING = "pending"  # earned, inside the return window
    AVAILABLE = "available"  # spendable
    DEBT = "debt"  # <= 0: points owed after a refund of already spent points
    ISSUED = "issued"  # source of every point ever created
    REDEEMED = "redeemed"
    EXPIRED = "expired"
    REVERSED = "reversed"
    ADJUSTED = "adjusted"


MEMBER_KINDS = (AccountKind.PENDING, AccountKind.AVAILABLE, AccountKind.DEBT)
SYSTEM_KINDS = (
    AccountKind.ISSUED,
    AccountKind.REDEEMED,
    AccountKind.EXPIRED,
    AccountKind.REVERSED,
    AccountKind.ADJUSTED,
)


@dataclass(slots=True)
class MemberAccounts:
    """The three accounts of one member, with balances as locked."""

    member_id: int
    ids: dict[AccountKind, int]
    balances: dict[AccountKind, int]

    @property
    def spendable(self) -> int:
        """Available points net of debt."""
        return self.balances[AccountKind.AVAILABLE] + self.balances[AccountKind.DEBT]


def create_member_accounts(conn: Connection, member_id: int) -> None:
    """Open the member's accounts (called once, at enrolment)."""
    conn.execute(
        insert(t.accounts),
        [
            {
                "member_id": member_id,
                "kind": kind.value,
                "balance": 0,
                "allow_negative": kind is AccountKind.DEBT,
            }
            for kind in MEMBER_KINDS
        ],
    )


def system_account_ids(conn: Connection) -> dict[AccountKind, int]:
    """Ids of the system accounts (created by the first migration)."""
    rows = conn.execute(
        select(t.accounts.c.kind, t.accounts.c.id).where(t.accounts.c.member_id.is_(None))
    )
    return {AccountKind(kind): int(id_) for kind, id_ in rows}


_READ_ACCOUNTS = (
    select(t.accounts.c.id, t.accounts.c.member_id, t.accounts.c.kind, t.accounts.c.balance)
    .where(t.accounts.c.member_id.in_(bindparam("ids", expanding=True)))
    .order_by(t.accounts.c.id)
)
# Row locks in ascending account id: every writer locks in the same order, so no deadlock.
_LOCK_ACCOUNTS = _READ_ACCOUNTS.with_for_update()


def lock_members(
    conn: Connection, member_ids: list[int], *, for_update: bool
) -> dict[int, MemberAccounts]:
    """Read (and on PostgreSQL row-lock, in sorted order) the accounts of ``member_ids``."""
    query = _LOCK_ACCOUNTS if for_update else _READ_ACCOUNTS
    found: dict[int, MemberAccounts] = {}
    for id_, member_id, kind, balance in conn.execute(query, {"ids": sorted(set(member_ids))}):
        entry = found.setdefault(member_id, MemberAccounts(member_id, {}, {}))
        entry.ids[AccountKind(kind)] = id_
        entry.balances[AccountKind(kind)] = balance
    return found


def lock_member(conn: Connection, member_id: int) -> MemberAccounts:
    """Row-lock one member's accounts; :class:`MemberNotFound` if there is no such member."""
    accounts = lock_members(conn, [member_id], for_update=True).get(member_id)
    if accounts is None:
        raise MemberNotFound(member_id)
    return accounts
