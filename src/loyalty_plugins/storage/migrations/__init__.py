"""Alembic migrations of the loyalty schema (run with :func:`upgrade`)."""
