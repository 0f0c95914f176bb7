"""Read-side queries: balances, lots, statements, member listings."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, case, func, select

from loyalty_plugins.domain.members import Member
from loyalty_plugins.errors import MemberNotFound
from loyalty_plugins.ledger.accounts import AccountKind, lock_members
from loyalty_plugins.services.results import Balance, LotView, StatementLine
from loyalty_plugins.services.runtime import member_from_row
from loyalty_plugins.storage import tables as t


def balance(conn: Connection, member_id: int) -> Balance:
    """Current balances of a member."""
    accounts = lock_members(conn, [member_id], for_update=False).get(member_id)
    if accounts is None:
        raise MemberNotFound(member_id)
    b = accounts.balances
    return Balance(member_id, b[AccountKind.AVAILABLE], b[AccountKind.PENDING], b[AccountKind.DEBT])


def lots(conn: Connection, member_id: int, *, open_only: bool = True) -> list[LotView]:
    """A member's lots, oldest first."""
    query = select(t.lots).where(t.lots.c.member_id == member_id)
    if open_only:
        query = query.where(t.lots.c.remaining > 0)
    return [
        LotView(r.id, r.points, r.remaining, r.state, r.earned_at, r.available_at, r.expires_at)
        for r in conn.execute(query.order_by(t.lots.c.earned_at, t.lots.c.id))
    ]


def statement(conn: Connection, member_id: int) -> list[StatementLine]:
    """Every journal entry that moved the member's points, with its net effect."""
    a, tr, j = t.accounts, t.transfers, t.journal
    accounts = {
        int(r.id): r.kind
        for r in conn.execute(select(a.c.id, a.c.kind).where(a.c.member_id == member_id))
    }
    if not accounts:
        raise MemberNotFound(member_id)
    ids = list(accounts)

    def change(kind: str) -> ColumnElement[Any]:
        own = [i for i, k in accounts.items() if k == kind]
        return func.sum(
            case((tr.c.destination_id.in_(own), tr.c.amount), else_=0)
            - case((tr.c.source_id.in_(own), tr.c.amount), else_=0)
        )

    rows = conn.execute(
        select(
            j.c.id,
            j.c.kind,
            j.c.occurred_at,
            j.c.reason,
            j.c.actor,
            change("available"),
            change("pending"),
            change("debt"),
        )
        .join(tr, tr.c.journal_id == j.c.id)
        .where(tr.c.source_id.in_(ids) | tr.c.destination_id.in_(ids))
        .group_by(j.c.id, j.c.kind, j.c.occurred_at, j.c.reason, j.c.actor)
        .order_by(j.c.id)
    )
    return [
        StatementLine(r[0], r[1], r[2], int(r[5] or 0), int(r[6] or 0), int(r[7] or 0), r[3], r[4])
        for r in rows
    ]


def list_members(
    conn: Connection, *, search: str | None = None, limit: int = 50, offset: int = 0
) -> list[tuple[Member, int]]:
    """Members with their available balance, newest first."""
    m, a = t.members, t.accounts
    query = (
        select(m, a.c.balance)
        .join(a, (a.c.member_id == m.c.id) & (a.c.kind == AccountKind.AVAILABLE.value))
        .order_by(m.c.id)
        .limit(limit)
        .offset(offset)
    )
    if search:
        like = f"%{search.lower()}%"
        query = query.where(
            func.lower(func.coalesce(m.c.email, "")).like(like)
            | func.lower(
                func.coalesce(m.c.first_name, "") + " " + func.coalesce(m.c.last_name, "")
            ).like(like)
        )
    return [(member_from_row(r), int(r.balance)) for r in conn.execute(query)]
