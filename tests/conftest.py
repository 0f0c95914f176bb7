"""Shared fixtures: a clock, programs on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from loyalty_plugins.clock import FixedClock
from loyalty_plugins.program import LoyaltyProgram

settings.register_profile(
    "default", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "deep", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

PG_ENV = "LOYALTY_TEST_DATABASE_URL"
START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)

BASE_CONFIG: dict[str, Any] = {
    "program": {"currency": "EUR", "return_window_days": 14, "expiry_months": 12},
    "tiers": {
        "window_days": 365,
        "grace_days": 30,
        "levels": [
            {"key": "silver", "name": "Silver", "threshold": "200", "earn_multiplier": "1"},
            {"key": "gold", "name": "Gold", "threshold": "1000", "earn_multiplier": "1.5"},
        ],
    },
    "rewards": [
        {"key": "5-off", "name": "5 EUR off", "cost": 100, "kind": "fixed_amount", "value": "5"},
        {"key": "10-pct", "name": "10%", "cost": 300, "kind": "percent", "value": "10"},
    ],
}


def merged(base: dict[str, Any], **program: Any) -> dict[str, Any]:
    """``base`` with ``program`` keys overridden."""
    return {**base, "program": {**base["program"], **program}}


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def pg_url() -> Iterator[tuple[str, str]]:
    """(url, schema) of a fresh PostgreSQL schema, dropped afterwards."""
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(
            f"PostgreSQL tests need {PG_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
        )
    from sqlalchemy import create_engine, text

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield url, schema
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


ProgramFactory = Callable[..., LoyaltyProgram]


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str | None]:
    """(database url, schema) for each backend of the storage contract."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'loyalty.db'}", None
    url, schema = request.getfixturevalue("pg_url")
    return url, schema


@pytest.fixture
def make_program(backend: tuple[str, str | None], clock: FixedClock) -> Iterator[ProgramFactory]:
    """Open programs on the current backend; all are closed at teardown."""
    opened: list[LoyaltyProgram] = []
    url, schema = backend

    def factory(config: dict[str, Any] | None = None, **kwargs: Any) -> LoyaltyProgram:
        data = config or BASE_CONFIG
        data = {**data, "program": {**data.get("program", {}), "database": url}}
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("load_entrypoints", False)
        program = LoyaltyProgram.open(data, schema=schema, **kwargs)
        opened.append(program)
        return program

    yield factory
    for program in opened:
        program.close()


@pytest.fixture
def program(make_program: ProgramFactory) -> LoyaltyProgram:
    return make_program()
