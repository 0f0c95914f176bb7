"""``loyalty ledger verify``: prove cached balances and lots agree with the transfers."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, func, select

from loyalty_plugins.storage import tables as t


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What the verification found; ``ok`` only when every check passed."""

    accounts: int
    transfers: int
    problems: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems


def verify_ledger(conn: Connection) -> VerifyReport:
    """Check: balance = sum of entries per member account; lots match their accounts;
    the books balance (all accounts sum to zero); no member balance breaks its floor;
    no order reversed more than it was awarded."""
    problems: list[str] = []
    a, tr, lots = t.accounts, t.transfers, t.lots
    incoming = select(tr.c.destination_id.label("acc"), tr.c.amount.label("delta"))
    outgoing = select(tr.c.source_id.label("acc"), (-tr.c.amount).label("delta"))
    flows = incoming.union_all(outgoing).subquery()
    sums = dict(
        conn.execute(select(flows.c.acc, func.sum(flows.c.delta)).group_by(flows.c.acc)).all()
    )
    rows = conn.execute(
        select(a.c.id, a.c.member_id, a.c.kind, a.c.balance, a.c.allow_negative)
    ).all()
    grand_total = sum(int(v) for v in sums.values())
    if grand_total != 0:
        problems.append(f"books do not balance: accounts sum to {grand_total}")
    lot_sums = {
        (int(m), s): int(v)
        for m, s, v in conn.execute(
            select(lots.c.member_id, lots.c.state, func.sum(lots.c.remaining)).group_by(
                lots.c.member_id, lots.c.state
            )
        )
    }
    for row in rows:
        if row.member_id is None:
            continue
        entries = int(sums.get(row.id, 0))
        if entries != row.balance:
            problems.append(
                f"member {row.member_id} {row.kind}: balance {row.balance} but entries sum to {entries}"
            )
        if row.balance < 0 and not row.allow_negative:
            problems.append(f"member {row.member_id} {row.kind}: negative balance {row.balance}")
        if row.kind in ("pending", "available"):
            in_lots = lot_sums.get((int(row.member_id), row.kind), 0)
            if in_lots != row.balance:
                problems.append(
                    f"member {row.member_id} {row.kind}: balance {row.balance} but lots hold {in_lots}"
                )
    over = conn.execute(
        select(func.count())
        .select_from(t.orders)
        .where(t.orders.c.points_reversed > t.orders.c.points_awarded)
    ).scalar_one()
    if over:
        problems.append(f"{over} orders reversed more points than they were awarded")
    transfers = conn.execute(select(func.count()).select_from(tr)).scalar_one()
    return VerifyReport(len(rows), int(transfers), tuple(problems))
