"""Hot-path statements sent as driver SQL, skipping SQLAlchemy's per-call compilation.

Building and compiling a Core statement costs several times more than running it, and an
order award runs half a dozen. The few statements on that path are written once, with
``:name`` placeholders, and converted to the driver's paramstyle per dialect. Values are
encoded exactly as the Core column types store them (see :func:`encode`), so rows written
here read back through the Core tables unchanged; ``tests/core/test_storage.py`` checks it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.exc import DBAPIError

_PLACEHOLDER = re.compile(r":(\w+)")


_PLAIN = (int, str, type(None), bool)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"expected an aware datetime, got {value!r}")
    return value.astimezone(UTC) if value.utcoffset() else value


@lru_cache(maxsize=4096)
def _sqlite_text(value: datetime) -> str:
    # SQLAlchemy's SQLite DATETIME storage format: comparisons in SQL are on this text.
    # Cached: one posting writes the same few instants many times.
    return _utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")


def encode(value: Any, dialect: str) -> Any:
    """Encode one parameter the way the Core column types do."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is datetime:
        return _sqlite_text(value) if dialect == "sqlite" else _utc(value)
    if kind is dict or kind is list:
        return json.dumps(value, separators=(",", ":"))
    return value


def decode_optional_datetime(value: Any) -> datetime | None:
    """A timestamp column read through the driver, as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"not a timestamp: {value!r}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def decode_datetime(value: Any) -> datetime:
    """Like :func:`decode_optional_datetime` for a NOT NULL column."""
    decoded = decode_optional_datetime(value)
    if decoded is None:
        raise TypeError("unexpected NULL timestamp")
    return decoded


def decode_date(value: Any) -> date | None:
    """A date column read through the driver."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


class DriverSQL:
    """One statement with ``:name`` placeholders, runnable on SQLite and PostgreSQL."""

    def __init__(self, sql: str, *, postgres_suffix: str = "") -> None:
        self.sql = sql
        self._by_dialect = {
            "sqlite": sql,
            "postgresql": _PLACEHOLDER.sub(r"%(\1)s", sql.replace("%", "%%")) + postgres_suffix,
        }

    def _params(self, conn: Connection, params: Mapping[str, Any]) -> dict[str, Any]:
        dialect = conn.dialect.name
        # Most values need no encoding; skipping the call for them is measurable here.
        return {
            key: value if type(value) in _PLAIN else encode(value, dialect)
            for key, value in params.items()
        }

    def _run(self, conn: Connection, params: Any, *, many: bool) -> Any:
        """Execute on the connection's own DB-API cursor, inside its current transaction.

        Driver errors are re-raised as SQLAlchemy's exception classes, so the retry logic
        of :meth:`Database.write` (deadlocks, unique clashes) sees them as usual.
        """
        sql = self._by_dialect[conn.dialect.name]
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            if many:
                cursor.executemany(sql, params)
            else:
                cursor.execute(sql, params)
        except conn.dialect.loaded_dbapi.Error as exc:
            cursor.close()
            raise DBAPIError.instance(
                sql,
                params,
                exc,
                conn.dialect.loaded_dbapi.Error,
                dialect=conn.dialect,
            ) from exc
        return cursor

    def fetch_all(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run a query and return its rows as tuples."""
        cursor = self._run(conn, self._params(conn, params), many=False)
        try:
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> None:
        """Run once."""
        self._run(conn, self._params(conn, params), many=False).close()

    def execute_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run for each of ``rows`` in one driver call."""
        if rows:
            self._run(conn, [self._params(conn, row) for row in rows], many=True).close()

    def insert_id(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Run an ``INSERT ... RETURNING id`` and return the id."""
        cursor = self._run(conn, self._params(conn, params), many=False)
        try:
            return int(cursor.fetchone()[0])
        finally:
            cursor.close()


def insert_sql(table: Table, columns: Sequence[str], *, returning_id: bool = False) -> DriverSQL:
    """``INSERT INTO table (columns) VALUES (:columns)`` [``RETURNING id``].

    Table and column names come from the Core metadata (unknown ones raise), never from
    input, so building the text is safe.
    """
    missing = [c for c in columns if c not in table.c]
    if missing:
        raise ValueError(f"{table.name} has no column(s) {missing}")
    names = ", ".join(columns)
    values = ", ".join(f":{c}" for c in columns)
    suffix = " RETURNING id" if returning_id else ""
    return DriverSQL(f"INSERT INTO {table.name} ({names}) VALUES ({values}){suffix}")  # noqa: S608
