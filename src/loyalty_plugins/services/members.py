"""Enrolment and lookup of members by their store references."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, func, insert, or_, select, update

from loyalty_plugins.domain.events import EventKind
from loyalty_plugins.domain.orders import CustomerRef
from loyalty_plugins.ledger.accounts import create_member_accounts
from loyalty_plugins.services.runtime import Runtime, emit
from loyalty_plugins.storage import tables as t
from loyalty_plugins.storage.database import inserted_id


def normalize_email(email: str | None) -> str | None:
    """Lower-cased, trimmed e-mail (None when empty)."""
    if not email:
        return None
    cleaned = email.strip().lower()
    return cleaned or None


def customer_external_id(customer: CustomerRef) -> str:
    """The reference stored for a customer; guests are known by e-mail only."""
    if customer.external_id:
        return customer.external_id
    return f"email:{normalize_email(customer.email)}"


def find_member_id(conn: Connection, platform: str, store: str, external_id: str) -> int | None:
    """Member id behind a store reference."""
    row = conn.execute(
        select(t.member_refs.c.member_id).where(
            t.member_refs.c.platform == platform,
            t.member_refs.c.store == store,
            t.member_refs.c.external_id == external_id,
        )
    ).first()
    return int(row.member_id) if row else None


def ensure_member(rt: Runtime, customer: CustomerRef) -> int:
    """Find the member behind ``customer`` or enrol them (idempotent, race-safe).

    A customer seen first as a guest and later with an account is one member: the new
    reference is attached to the member found by e-mail.
    """
    external = customer_external_id(customer)
    ref = (customer.platform, customer.store, external)
    cached = rt.member_refs.get(ref)
    if cached is not None:
        return cached
    with rt.db.read() as conn:
        found = find_member_id(conn, *ref)
    if found is not None:
        rt.member_refs.put(ref, found)
        return found
    email = normalize_email(customer.email)

    def enrol(conn: Connection) -> int:
        existing = find_member_id(conn, customer.platform, customer.store, external)
        if existing is not None:
            return existing
        member_id: int | None = None
        if email:
            row = conn.execute(
                select(t.members.c.id)
                .where(func.lower(t.members.c.email) == email, t.members.c.redacted_at.is_(None))
                .order_by(t.members.c.id)
            ).first()
            member_id = int(row.id) if row else None
        if member_id is None:
            member_id = inserted_id(
                conn.execute(
                    insert(t.members).values(
                        email=email,
                        first_name=customer.first_name,
                        last_name=customer.last_name,
                        enrolled_at=rt.now(),
                    )
                )
            )
            create_member_accounts(conn, member_id)
            emit(rt, conn, EventKind.MEMBER_ENROLLED, member_id, {"source": customer.platform})
        conn.execute(
            insert(t.member_refs).values(
                member_id=member_id,
                platform=customer.platform,
                store=customer.store,
                external_id=external,
            )
        )
        return member_id

    member_id = rt.db.write(enrol)
    rt.member_refs.put(ref, member_id)
    return member_id


def update_profile(
    rt: Runtime,
    member_id: int,
    *,
    birthday: date | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
) -> bool:
    """Fill in what the store knows about a member; None leaves a field as it is.

    Returns True when something changed. A redacted member is never written again.
    """
    values: dict[str, object] = {
        key: value
        for key, value in (
            ("birthday", birthday),
            ("first_name", first_name),
            ("last_name", last_name),
        )
        if value is not None
    }
    if not values:
        return False
    m = t.members.c
    changed = or_(*(m[key].is_distinct_from(value) for key, value in values.items()))
    return bool(
        rt.db.write(
            lambda conn: (
                conn.execute(
                    update(t.members)
                    .where(m.id == member_id, m.redacted_at.is_(None), changed)
                    .values(**values)
                ).rowcount
            )
        )
    )
