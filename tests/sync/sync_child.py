"""Run one WooCommerce sync in its own process, so a test can SIGKILL it mid-way.

Usage::

    python tests/sync/sync_child.py DB_URL EMULATOR_URL KEY SECRET \
        [--schema S] [--store NAME] [--now ISO] [--config JSON]

``--config`` is the program configuration (without ``database``), ``--now`` the fixed
clock of the run (ISO 8601, aware). The database must already be migrated by the caller
(two processes migrating one database at once race). On success prints the run summary as
one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from loyalty_plugins.clock import FixedClock
from loyalty_plugins.program import LoyaltyProgram
from loyalty_plugins.sync.engine import SyncEngine
from loyalty_plugins.sync.http import HttpPolicy
from loyalty_woocommerce.client import WooCommerceClient, WooCommerceStore

DEFAULT_CONFIG: dict[str, Any] = {"program": {"currency": "EUR", "return_window_days": 14}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db_url")
    parser.add_argument("emulator_url")
    parser.add_argument("key")
    parser.add_argument("secret")
    parser.add_argument("--schema", default=None)
    parser.add_argument("--store", default="shop")
    parser.add_argument("--now", default=None, help="fixed clock, ISO 8601 with offset")
    parser.add_argument("--config", default=None, help="program config as JSON")
    args = parser.parse_args(argv)

    config: dict[str, Any] = json.loads(args.config) if args.config else DEFAULT_CONFIG
    config = {**config, "program": {**config.get("program", {}), "database": args.db_url}}
    kwargs: dict[str, Any] = {"load_entrypoints": False, "schema": args.schema, "migrate": False}
    if args.now:
        kwargs["clock"] = FixedClock(datetime.fromisoformat(args.now))
    program = LoyaltyProgram.open(config, **kwargs)
    try:
        client = WooCommerceClient(
            WooCommerceStore(args.store, args.emulator_url, args.key, args.secret),
            policy=HttpPolicy(
                connect_timeout=5, read_timeout=30, backoff_base=0.01, backoff_cap=0.05
            ),
        )
        summary = SyncEngine(program, client).run()
    finally:
        program.close()
    print(json.dumps(summary.as_dict()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
