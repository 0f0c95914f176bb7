"""Durable sync state: checkpoints, the per-store run lock, quarantine and the webhook inbox.

Everything here is its own short transaction, so a run killed at any point leaves the
state consistent: a checkpoint only moves after the page it covers was recorded.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from loyalty_plugins.errors import LockBusy, NotFound
from loyalty_plugins.storage import tables as t
from loyalty_plugins.storage.database import Database, inserted_id

#: A run holding the SQLite lock row longer than this is taken to be dead.
LOCK_TTL = timedelta(minutes=30)


# ----------------------------------------------------------------------------- checkpoints


def get_checkpoint(db: Database, store: str, resource: str) -> str | None:
    """The saved position of ``resource`` for ``store`` (None: never synced)."""
    c = t.sync_checkpoints.c
    with db.read() as conn:
        row = conn.execute(
            select(c.position).where(c.store == store, c.resource == resource)
        ).first()
    return row.position if row else None


def set_checkpoint(db: Database, store: str, resource: str, position: str, now: datetime) -> None:
    """Save a position (upsert)."""
    c = t.sync_checkpoints.c

    def txn(conn: Connection) -> None:
        updated = conn.execute(
            update(t.sync_checkpoints)
            .where(c.store == store, c.resource == resource)
            .values(position=position, updated_at=now)
        ).rowcount
        if not updated:
            conn.execute(
                insert(t.sync_checkpoints).values(
                    store=store, resource=resource, position=position, updated_at=now
                )
            )

    db.write(txn)


def clear_checkpoints(db: Database, store: str) -> None:
    """Forget every position of ``store`` (the next run is a full backfill)."""
    db.write(
        lambda conn: conn.execute(
            delete(t.sync_checkpoints).where(t.sync_checkpoints.c.store == store)
        )
    )


# ----------------------------------------------------------------------------- run lock


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _advisory_key(db: Database, store: str) -> int:
    # pg advisory locks are per database, not per schema: the schema is part of the key
    # so two programs in one database never block each other. A stable 32-bit hash.
    return zlib.crc32(f"loyalty-sync:{db.schema or ''}:{store}".encode()) - 2**31


@contextmanager
def store_lock(db: Database, store: str, now: datetime) -> Iterator[None]:
    """Hold the sync lock of ``store`` or raise :class:`LockBusy` at once.

    PostgreSQL: a session advisory lock on a dedicated connection (released even if the
    process dies, with its connection). SQLite: a lock row with an expiry, so a run that
    was killed blocks the store for at most :data:`LOCK_TTL`.
    """
    if db.is_postgres:
        with db.engine.connect() as conn:
            key = _advisory_key(db, store)
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
            conn.commit()
            if not got:
                raise LockBusy(f"another sync run holds store {store!r}")
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        return
    holder = _holder()
    _LOCK_HOLDERS[(id(db), store)] = holder
    lk = t.sync_locks.c

    def acquire(conn: Connection) -> bool:
        row = conn.execute(select(t.sync_locks).where(lk.store == store)).first()
        if row is not None and row.expires_at > now:
            return False
        if row is not None:
            conn.execute(delete(t.sync_locks).where(lk.store == store))
        conn.execute(
            insert(t.sync_locks).values(
                store=store, holder=holder, acquired_at=now, expires_at=now + LOCK_TTL
            )
        )
        return True

    if not db.write(acquire):
        raise LockBusy(f"another sync run holds store {store!r}")
    try:
        yield
    finally:
        _LOCK_HOLDERS.pop((id(db), store), None)
        db.write(
            lambda conn: conn.execute(
                delete(t.sync_locks).where(lk.store == store, lk.holder == holder)
            )
        )


#: The SQLite lock rows this process holds, so a long run can renew its own.
_LOCK_HOLDERS: dict[tuple[int, str], str] = {}


def renew_store_lock(db: Database, store: str, now: datetime) -> None:
    """Push a held SQLite lock row's expiry out again (called at each checkpoint).

    A run longer than :data:`LOCK_TTL` would otherwise lose its lock to the next cron
    run. Only the holder's own row is touched; PostgreSQL needs nothing.
    """
    holder = _LOCK_HOLDERS.get((id(db), store))
    if db.is_postgres or holder is None:
        return
    lk = t.sync_locks.c
    db.write(
        lambda conn: conn.execute(
            update(t.sync_locks)
            .where(lk.store == store, lk.holder == holder)
            .values(expires_at=now + LOCK_TTL)
        )
    )


# ----------------------------------------------------------------------------- quarantine


@dataclass(frozen=True, slots=True)
class QuarantineItem:
    """A payload that could not be processed, with why."""

    id: int
    platform: str
    store: str
    resource: str
    external_id: str | None
    payload: str
    reason: str
    status: str
    attempts: int
    created_at: datetime
    updated_at: datetime


def quarantine_payload(
    db: Database,
    *,
    platform: str,
    store: str,
    resource: str,
    external_id: str | None,
    payload: Any,
    reason: str,
    now: datetime,
    status: str = "open",
) -> int:
    """Store a payload with the reason it failed; an open item for the same thing is updated."""
    body = payload if isinstance(payload, str) else json.dumps(payload, default=str)
    q = t.quarantine.c

    def txn(conn: Connection) -> int:
        existing = None
        if external_id is not None:
            existing = conn.execute(
                select(q.id).where(
                    q.platform == platform,
                    q.store == store,
                    q.resource == resource,
                    q.external_id == external_id,
                    q.status.in_(("open", "held")),
                )
            ).first()
        if existing is not None:
            conn.execute(
                update(t.quarantine)
                .where(q.id == existing.id)
                .values(
                    payload=body,
                    reason=reason,
                    status=status,
                    updated_at=now,
                    attempts=q.attempts + 1,
                )
            )
            return int(existing.id)
        return inserted_id(
            conn.execute(
                insert(t.quarantine).values(
                    platform=platform,
                    store=store,
                    resource=resource,
                    external_id=external_id,
                    payload=body,
                    reason=reason,
                    status=status,
                    attempts=1,
                    created_at=now,
                    updated_at=now,
                )
            )
        )

    return db.write(txn)


def resolve_quarantined(
    db: Database, *, platform: str, store: str, resource: str, external_id: str, now: datetime
) -> int:
    """Mark open items for this thing resolved (it was processed since); returns how many."""
    q = t.quarantine.c
    return int(
        db.write(
            lambda conn: (
                conn.execute(
                    update(t.quarantine)
                    .where(
                        q.platform == platform,
                        q.store == store,
                        q.resource == resource,
                        q.external_id == external_id,
                        q.status == "open",
                    )
                    .values(status="resolved", updated_at=now)
                ).rowcount
            )
        )
    )


def list_quarantine(
    db: Database, *, store: str | None = None, statuses: tuple[str, ...] = ("open", "held")
) -> list[QuarantineItem]:
    """Quarantined items, oldest first."""
    q = t.quarantine.c
    query = select(t.quarantine).where(q.status.in_(statuses)).order_by(q.id)
    if store is not None:
        query = query.where(q.store == store)
    with db.read() as conn:
        return [QuarantineItem(**row._mapping) for row in conn.execute(query)]


def get_quarantined(db: Database, item_id: int) -> QuarantineItem:
    """One quarantined item or :class:`NotFound`."""
    with db.read() as conn:
        row = conn.execute(select(t.quarantine).where(t.quarantine.c.id == item_id)).first()
    if row is None:
        raise NotFound("quarantine item", item_id)
    return QuarantineItem(**row._mapping)


def set_quarantine_status(
    db: Database, item_id: int, status: str, now: datetime, reason: str | None = None
) -> None:
    """Mark an item resolved, dropped, or failed again (with a new reason)."""
    q = t.quarantine.c
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if reason is not None:
        values["reason"] = reason
        values["attempts"] = q.attempts + 1
    db.write(
        lambda conn: conn.execute(update(t.quarantine).where(q.id == item_id).values(**values))
    )


# ----------------------------------------------------------------------------- inbox


@dataclass(frozen=True, slots=True)
class Delivery:
    """A webhook delivery as stored in the inbox."""

    id: int
    platform: str
    store: str
    delivery_id: str
    topic: str
    body: str
    received_at: datetime
    status: str


def store_delivery(
    db: Database,
    *,
    platform: str,
    store: str,
    delivery_id: str,
    topic: str,
    body: str,
    now: datetime,
) -> bool:
    """Write a delivery durably; False when this delivery id was already stored."""

    def txn(conn: Connection) -> bool:
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(t.inbox).values(
                        platform=platform,
                        store=store,
                        delivery_id=delivery_id,
                        topic=topic,
                        body=body,
                        received_at=now,
                        status="pending",
                    )
                )
        except IntegrityError:
            return False
        return True

    return db.write(txn)


def pending_deliveries(db: Database, *, limit: int = 100) -> list[Delivery]:
    """Deliveries not processed yet, oldest first."""
    i = t.inbox.c
    with db.read() as conn:
        rows = conn.execute(
            select(
                i.id, i.platform, i.store, i.delivery_id, i.topic, i.body, i.received_at, i.status
            )
            .where(i.status == "pending")
            .order_by(i.id)
            .limit(limit)
        )
        return [Delivery(*row) for row in rows]


def finish_delivery(
    db: Database, delivery_id: int, status: str, now: datetime, error: str | None = None
) -> None:
    """Mark an inbox row processed or quarantined."""
    i = t.inbox.c
    db.write(
        lambda conn: conn.execute(
            update(t.inbox)
            .where(i.id == delivery_id)
            .values(status=status, processed_at=now, error=error)
        )
    )
