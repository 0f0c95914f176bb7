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
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table

_PLACEHOLDER = re.compile(r":(\w+)")


def encode(value: Any, dialect: str) -> Any:
    """Encode one parameter the way the Core column types do."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"expected an aware datetime, got {value!r}")
        utc = value.astimezone(UTC)
        # SQLAlchemy's SQLite DATETIME storage format: comparisons in SQL are on this text.
        return utc.strftime("%Y-%m-%d %H:%M:%S.%f") if dialect == "sqlite" else utc
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return value


class DriverSQL:
    """One statement with ``:name`` placeholders, runnable on SQLite and PostgreSQL."""

    def __init__(self, sql: str) -> None:
        self.sql = sql
        self._by_dialect = {
            "sqlite": sql,
            "postgresql": _PLACEHOLDER.sub(r"%(\1)s", sql.replace("%", "%%")),
        }

    def _params(self, conn: Connection, params: Mapping[str, Any]) -> dict[str, Any]:
        dialect = conn.dialect.name
        return {key: encode(value, dialect) for key, value in params.items()}

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """Run once; returns the SQLAlchemy result."""
        return conn.exec_driver_sql(self._by_dialect[conn.dialect.name], self._params(conn, params))

    def execute_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run for each of ``rows`` in one driver call."""
        if rows:
            conn.exec_driver_sql(
                self._by_dialect[conn.dialect.name], [self._params(conn, row) for row in rows]
            )

    def insert_id(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Run an ``INSERT ... RETURNING id`` and return the id."""
        return int(self.execute(conn, params).scalar_one())


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
