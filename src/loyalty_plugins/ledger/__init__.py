"""Append-only, double-entry points ledger with FIFO lots and idempotent postings."""
