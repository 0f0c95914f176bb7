"""The migrations produce exactly the schema the code declares, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from loyalty_plugins.ledger.accounts import SYSTEM_KINDS, system_account_ids
from loyalty_plugins.program import LoyaltyProgram
from loyalty_plugins.storage.migrate import current_revision, head_revision, upgrade
from loyalty_plugins.storage.tables import metadata


def test_migrations_match_tables(program: LoyaltyProgram) -> None:
    assert current_revision(program.db) == head_revision()
    with program.db.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), metadata
        )
    assert diff == []
    upgrade(program.db)  # idempotent
    with program.db.read() as conn:
        assert set(system_account_ids(conn)) == set(SYSTEM_KINDS)


def test_database_constraints_back_the_invariants(program: LoyaltyProgram) -> None:
    import pytest
    from sqlalchemy import insert, update
    from sqlalchemy.exc import IntegrityError

    from loyalty_plugins.storage import tables as t
    from tests.builders import customer

    member = program.ensure_member(customer("5"))
    # member balances cannot go negative
    with pytest.raises(IntegrityError), program.db.engine.begin() as conn:
        conn.execute(
            update(t.accounts)
            .where(t.accounts.c.member_id == member, t.accounts.c.kind == "available")
            .values(balance=-1)
        )
    # a transfer moves a positive amount
    with pytest.raises(IntegrityError), program.db.engine.begin() as conn:
        ids = list(system_account_ids(conn).values())
        conn.execute(
            insert(t.transfers).values(
                journal_id=1, source_id=ids[0], destination_id=ids[1], amount=0, memo="x"
            )
        )


def test_driver_sql_rows_read_back_through_core(program: LoyaltyProgram) -> None:
    """Rows the hot path writes as driver SQL read back exactly through the Core tables."""
    from datetime import UTC, datetime, timedelta, timezone

    from sqlalchemy import select

    from loyalty_plugins.storage import tables as t
    from tests.builders import order

    paid = datetime(2026, 1, 5, 14, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    program.record_order(order("tz", "10.00", paid))
    with program.db.read() as conn:
        row = conn.execute(select(t.orders.c.paid_at, t.orders.c.rule)).one()
        lot = conn.execute(select(t.lots.c.earned_at, t.lots.c.available_at)).one()
        event = conn.execute(select(t.outbox.c.data).where(t.outbox.c.kind == "order_paid")).one()
        # SQL comparisons on the stored text agree with the instants
        later = conn.execute(
            select(t.orders.c.id).where(
                t.orders.c.paid_at > datetime(2026, 1, 5, 12, 30, 15, 123456, tzinfo=UTC)
            )
        ).all()
    assert row.paid_at == paid and row.paid_at.tzinfo is not None
    assert row.rule["points_per_unit"] == "1"
    assert lot.earned_at == paid and lot.available_at == paid + timedelta(days=14)
    assert event.data["points"] == 10
    assert later == []  # 14:30+02:00 is 12:30:15.123456 UTC: not after 12:30:15.123456
