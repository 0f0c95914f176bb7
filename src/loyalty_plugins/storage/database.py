"""Engines and transactions for SQLite (embedded default) and PostgreSQL.

SQLite runs in WAL mode and every write transaction starts with ``BEGIN IMMEDIATE`` so
writers queue on the database lock instead of failing half-way with ``SQLITE_BUSY``.
PostgreSQL runs READ COMMITTED; writers lock member rows with ``SELECT ... FOR UPDATE``
in sorted order. Only deadlocks, serialization failures and lock time-outs are retried.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, CursorResult, Engine, create_engine, event, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.pool import QueuePool

from loyalty_plugins.errors import ConcurrencyConflict, ConfigError

log = logging.getLogger(__name__)

T = TypeVar("T")

_RETRYABLE_PG_STATES = {"40001", "40P01", "55P03"}  # serialization, deadlock, lock not available


def _is_retryable(exc: DBAPIError) -> bool:
    orig = exc.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if state in _RETRYABLE_PG_STATES:
        return True
    return isinstance(exc, OperationalError) and "database is locked" in str(orig)


def _sqlite_engine(url: str, echo: bool) -> Engine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # A small pool: opening a SQLite connection (and the WAL checkpoint on closing the
    # last one) costs more than a whole write, so connections are kept.
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"timeout": 60, "check_same_thread": False},
        poolclass=QueuePool,
        pool_size=5,
        max_overflow=60,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so BEGIN IMMEDIATE is ours to send.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Straight to the driver: this runs once per transaction, on the hot path.
        readonly = conn.get_execution_options().get("loyalty_readonly")
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        dbapi.execute("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


def _postgres_engine(url: str, echo: bool, schema: str | None) -> Engine:
    connect_args: dict[str, Any] = {"connect_timeout": 10}
    if schema:
        connect_args["options"] = f"-csearch_path={schema}"
    # No pre-ping: it would cost a round trip per transaction. Connections are recycled
    # by age instead; a dropped one fails that transaction, which the caller retries.
    return create_engine(
        url,
        echo=echo,
        connect_args=connect_args,
        pool_size=10,
        max_overflow=40,
        pool_recycle=1800,
    )


def inserted_id(result: CursorResult[Any]) -> int:
    """Primary key of the row an INSERT just wrote."""
    key = result.inserted_primary_key
    if key is None or key[0] is None:
        raise RuntimeError("the INSERT returned no primary key")
    return int(key[0])


class Database:
    """One database: engine, dialect facts and retrying transactions."""

    def __init__(self, url: str, *, schema: str | None = None, echo: bool = False) -> None:
        try:
            parsed = make_url(url)
        except Exception as exc:
            raise ConfigError(f"invalid database URL: {exc}", key="database") from None
        self.url = url
        self.schema = schema
        self._local = threading.local()
        self._kept: list[Connection] = []
        self._kept_lock = threading.Lock()
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            self.engine = _sqlite_engine(url, echo)
        elif self.dialect == "postgresql":
            self.engine = _postgres_engine(url, echo, schema)
        else:
            raise ConfigError(
                f"unsupported database {self.dialect!r}; use sqlite or postgresql", key="database"
            )

    @property
    def is_postgres(self) -> bool:
        """True on PostgreSQL (row locks, advisory locks)."""
        return self.dialect == "postgresql"

    @contextmanager
    def read(self, *, snapshot: bool = False) -> Iterator[Connection]:
        """A read-only transaction (deferred on SQLite, so it never blocks writers).

        ``snapshot=True`` makes every statement see the same moment on PostgreSQL
        (REPEATABLE READ); SQLite read transactions already do.
        """
        options: dict[str, Any] = {"loyalty_readonly": True}
        if snapshot and self.is_postgres:
            options["isolation_level"] = "REPEATABLE READ"
        with self.engine.connect() as conn:
            conn = conn.execution_options(**options)
            with conn.begin():
                yield conn

    def write(self, fn: Callable[[Connection], T], *, attempts: int = 8) -> T:
        """Run ``fn`` in a write transaction; retry only deadlocks/serialization failures.

        A unique-key clash is retried once too: ``fn`` is idempotent by design, so the
        second run finds what the concurrent writer committed and replays it.
        """
        clashes = 0
        for attempt in range(1, attempts + 1):
            try:
                kept = self._kept_connection()
                if kept is not None:
                    with kept.begin():
                        return fn(kept)
                with self.engine.begin() as conn:
                    return fn(conn)
            except IntegrityError:
                clashes += 1
                if clashes > 2:
                    raise
                continue
            except DBAPIError as exc:
                if not _is_retryable(exc) or attempt == attempts:
                    if _is_retryable(exc):
                        raise ConcurrencyConflict(
                            f"gave up after {attempts} attempts: {exc.orig}"
                        ) from exc
                    raise
                delay = min(0.5, 0.005 * 2**attempt) * random.random()
                log.debug("retrying write after %s (attempt %d)", type(exc.orig).__name__, attempt)
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _kept_connection(self) -> Connection | None:
        """This thread's own SQLite connection, kept between write transactions.

        Checking a connection out of the pool and back costs about as much as a small
        write, and SQLite connections are cheap to hold. None inside a write that is
        already running on this thread (a nested write gets a pooled connection) and on
        PostgreSQL, where held connections would count against the server's limit.
        """
        if self.is_postgres:
            return None
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            conn = self.engine.connect()
            self._local.conn = conn
            with self._kept_lock:
                self._kept.append(conn)
        return None if conn.in_transaction() else conn

    def dispose(self) -> None:
        """Close kept and pooled connections."""
        with self._kept_lock:
            kept, self._kept = self._kept, []
        for conn in kept:
            if not conn.closed:
                conn.close()
        self._local = threading.local()
        self.engine.dispose()
