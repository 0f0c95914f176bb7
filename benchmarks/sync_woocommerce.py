"""WooCommerce sync: wall time against the request-latency floor, and memory against size.

Each measurement runs in a fresh worker process (this script with ``--worker``) that starts
the store emulator in a *second* subprocess (``run_emulator``), so the emulator's CPU time
and memory never mix with the sync's, then syncs every order into a fresh SQLite program
(``SyncEngine(program, WooCommerceClient(...)).run()``, pushes included).

**Latency.** The emulator sleeps ``--latency`` seconds (default 50 ms) before answering
each request. The floor is what those sleeps alone cost when requests go one after the
other::

    floor = (orders pages + refund fetches + products pages + customers pages
             + pushes) x latency

counting the requests the store's content needs: ``ceil(orders / 100)`` order pages, one
refund list per paid order that lists refunds, ``ceil(products / 100)`` and (first run)
``ceil(customers / 100)`` pages, ``ceil(members pushed / 100)`` batch updates. The requests
the sync actually sent are counted per route by a response hook on the client's session
(retries included) and shown next to them, with ``wall / (requests made x latency)``: more
requests than needed (keyset paging re-reads the last second of a page; refunds fetched for
orders that are then skipped) make that second ratio look better than it is. ``wall /
floor`` (target <= 1.2) is what the sync adds on top of its necessary requests done one
after the other; a client that fetches in the background can go below 1. The same sync at
latency 0 (the memory run of the same size) shows the processing time, so ``wall ~
processing + floor`` means nothing overlaps.

**Memory.** Peak RSS of the worker (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) for a sync
of ``--memory-sizes`` orders (default 10,000 and 50,000, latency 0), with the RSS just
before the sync (imports done, program open) as the baseline; target: the larger peak
within 10% of the smaller. ``--tracemalloc`` adds the Python-heap peak of the sync alone
(tracemalloc makes the sync about three times slower). The runs go one after the other;
``--parallel`` runs the memory sizes side by side (faster, but their wall times, including
the "processing alone" one, then mean little).

All SQLite files go to tmpfs (``/dev/shm``) when there is one, else a temp dir
(``--db-dir`` chooses): what is measured is the sync against the network, not fsync.

Takes about 6-7 minutes on 2 cores at the default sizes: the 50,000-order sync alone is
about 4 minutes (the engine records ~230 orders/s). ``--quick`` (1,000 orders; 1,000 vs
5,000) takes under a minute.

Usage: python benchmarks/sync_woocommerce.py [--orders N] [--latency S]
       [--memory-sizes 10000,50000] [--quick] [--parallel] [--tracemalloc]
       [--db-dir DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import queue
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
SEED = 20250601
STORE = "bench"
LATENCY_TARGET = 1.2
MEMORY_TARGET = 1.10
PAGE = 100  # the client's per_page and batch size
SHM = Path("/dev/shm")  # noqa: S108 - only the parent of a private mkdtemp dir
STARTUP_TIMEOUT = 600.0  # generating 50,000 orders takes a while on a slow machine
WORKER_TIMEOUT = 3600.0
REQUEST_TIMEOUT = (5.0, 60.0)  # connect, read: every request the sync sends has one

_ROUTES = (
    ("orders pages", re.compile(r"^GET /wp-json/wc/v3/orders$")),
    ("refund fetches", re.compile(r"^GET /wp-json/wc/v3/orders/\d+/refunds$")),
    ("products pages", re.compile(r"^GET /wp-json/wc/v3/products$")),
    ("customers pages", re.compile(r"^GET /wp-json/wc/v3/customers$")),
    ("pushes", re.compile(r"^POST /wp-json/wc/v3/(customers|coupons)/batch$")),
    ("coupon reads", re.compile(r"^GET /wp-json/wc/v3/coupons$")),
)


# --------------------------------------------------------------------------- emulator


@contextmanager
def emulator_process(orders: int, latency: float, seed: int) -> Iterator[tuple[str, str, str]]:
    """Run ``run_emulator`` in a subprocess; yields (url, consumer key, consumer secret)."""
    code = textwrap.dedent(
        f"""
        from datetime import datetime
        from loyalty_plugins.testing.woocommerce import run_emulator
        run_emulator(
            orders={orders}, port=0, seed={seed}, latency={latency!r},
            now=datetime.fromisoformat({NOW.isoformat()!r}), auto_webhooks=False,
            echo=lambda line: print(line, flush=True),
        )
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    found: dict[str, str] = {}
    deadline = time.monotonic() + STARTUP_TIMEOUT
    try:
        while "ready" not in found:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError("the emulator did not start in time") from None
            if line is None:
                err = proc.stderr.read() if proc.stderr else ""
                raise RuntimeError(f"the emulator exited: {err[-2000:]}")
            for name, label in (
                ("url", "URL:"),
                ("key", "consumer key:"),
                ("secret", "consumer secret:"),
            ):
                if line.strip().startswith(label):
                    found[name] = line.split(":", 1)[1].strip()
            if line.startswith("Press Ctrl-C"):
                found["ready"] = "yes"
        yield found["url"], found["key"], found["secret"]
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # run_emulator stops cleanly on Ctrl-C
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)


# --------------------------------------------------------------------------- worker


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def worker(
    orders: int, latency: float, seed: int, db_dir: Path, *, trace: bool = False
) -> dict[str, Any]:
    """One measured sync (runs in its own process; prints its result as JSON)."""
    from loyalty_plugins.clock import FixedClock
    from loyalty_plugins.program import LoyaltyProgram
    from loyalty_plugins.sync.engine import SyncEngine
    from loyalty_plugins.sync.http import HttpPolicy
    from loyalty_woocommerce.client import WooCommerceClient, WooCommerceStore

    db_path = db_dir / f"sync-{orders}-{os.getpid()}.db"
    config = {
        "program": {"database": f"sqlite:///{db_path}", "currency": "EUR"},
        "rewards": [
            {"key": "5-off", "name": "5 EUR off", "cost": 100, "kind": "fixed_amount", "value": "5"}
        ],
    }
    routes: Counter[str] = Counter()

    def count(response: Any, *args: Any, **kwargs: Any) -> None:
        path = response.request.path_url.split("?", 1)[0]
        label = f"{response.request.method} {path}"
        routes[next((name for name, rx in _ROUTES if rx.match(label)), label)] += 1

    with emulator_process(orders, latency, seed) as (url, key, secret):
        program = LoyaltyProgram.open(config, clock=FixedClock(NOW), load_entrypoints=False)
        policy = HttpPolicy(connect_timeout=REQUEST_TIMEOUT[0], read_timeout=REQUEST_TIMEOUT[1])
        client = WooCommerceClient(WooCommerceStore(STORE, url, key, secret), policy=policy)
        client.session.hooks["response"].append(count)
        baseline = _rss_mib()
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        summary = SyncEngine(program, client).run()
        wall = time.perf_counter() - started
        peak = _rss_mib()
        python_peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
        tracemalloc.stop()
        program.close()
    db_path.unlink(missing_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    return {
        "orders": orders,
        "latency": latency,
        "wall_s": round(wall, 3),
        "routes": dict(routes),
        "stats": client.session.stats.as_dict(),
        "summary": summary.as_dict(),
        "rss_baseline_mib": round(baseline, 1),
        "rss_peak_mib": round(peak, 1),
        "python_peak_mib": None if python_peak is None else round(python_peak, 2),
    }


def needed_requests(orders: int, seed: int) -> dict[str, int]:
    """The requests the store's content requires (computed from the generated store)."""
    from loyalty_plugins.testing.woocommerce import generate_store

    shop = generate_store(orders, seed=seed, now=NOW)
    paid = ("processing", "completed")
    # The engine fetches refunds of orders it records or voids: paid ones listing refunds
    # (an order already "refunded"/"cancelled" on first sight earned nothing and is skipped).
    with_refunds = sum(1 for o in shop.orders() if o.refunds and o.status in paid)
    counts = shop.counts()
    return {
        "orders pages": math.ceil(orders / PAGE),
        "refund fetches": with_refunds,
        "products pages": math.ceil(counts["products"] / PAGE),
        "customers pages": math.ceil(counts["customers"] / PAGE),
    }


def run_worker(
    orders: int, latency: float, seed: int, db_dir: Path, *, trace: bool = False
) -> dict[str, Any]:
    """Run :func:`worker` in a fresh process (clean RSS accounting)."""
    command = [
        sys.executable,
        __file__,
        "--worker",
        "--orders",
        str(orders),
        "--latency",
        str(latency),
        "--seed",
        str(seed),
        "--db-dir",
        str(db_dir),
        *(["--tracemalloc"] if trace else []),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=WORKER_TIMEOUT)
    if done.returncode != 0:
        raise RuntimeError(f"worker failed ({done.returncode}): {done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --------------------------------------------------------------------------- report


def _row(label: str, value: str, note: str = "") -> str:
    return f"  {label:<38} {value:>14}  {note}"


def report_latency(
    run: dict[str, Any],
    needed: dict[str, int],
    plain: dict[str, Any] | None,
    *,
    contended: bool = False,
) -> dict[str, Any]:
    latency = float(run["latency"])
    wall = float(run["wall_s"])
    routes: dict[str, int] = run["routes"]
    summary = run["summary"]
    needed = {
        **needed,
        "pushes": math.ceil(summary["members_pushed"] / PAGE)
        + math.ceil(summary["coupons_pushed"] / PAGE),
    }
    made = sum(routes.values())
    least = sum(needed.values())
    floor_made, floor_needed = made * latency, least * latency
    ratio_made = wall / floor_made if floor_made else float("inf")
    ratio_needed = wall / floor_needed if floor_needed else float("inf")
    print(f"Latency: {run['orders']:,} orders, {latency * 1000:.0f} ms per request")
    print(_row("requests", "made", "needed by the content"))
    for name, _ in _ROUTES:
        need = needed.get(name)
        print(
            _row(f"  {name}", f"{routes.get(name, 0):,}", f"{need:,}" if need is not None else "")
        )
    for name, value in routes.items():
        if name not in dict(_ROUTES):
            print(_row(f"  {name}", f"{value:,}"))
    print(_row("  retries (included above)", f"{run['stats']['total_retries']:,}"))
    print(
        _row(
            "floor = needed requests x latency",
            f"{floor_needed:.1f} s",
            f"({least:,} x {latency} s)",
        )
    )
    print(_row("  (requests made x latency)", f"{floor_made:.1f} s", f"({made:,} x {latency} s)"))
    print(_row("wall time of the sync", f"{wall:.1f} s"))
    verdict = "ok" if ratio_needed <= LATENCY_TARGET else "over target"
    print(_row("wall / floor", f"{ratio_needed:.2f}", f"target <= {LATENCY_TARGET} ({verdict})"))
    print(_row("  (wall / requests-made floor)", f"{ratio_made:.2f}"))
    result = {
        "requests_made": made,
        "requests_needed": least,
        "floor_s": round(floor_needed, 3),
        "floor_made_s": round(floor_made, 3),
        "ratio": round(ratio_needed, 3),
        "ratio_made": round(ratio_made, 3),
    }
    if plain is not None:
        processing = float(plain["wall_s"])
        note = "(processing alone" + (", beside the other memory run)" if contended else ")")
        print(_row("same sync at latency 0", f"{processing:.1f} s", note))
        print(
            _row(
                "processing + floor",
                f"{processing + floor_needed:.1f} s",
                "(a sync that overlaps nothing)",
            )
        )
        result["processing_s"] = processing
    return result


def report_memory(runs: list[dict[str, Any]]) -> dict[str, Any]:
    print("Memory: peak RSS of the sync worker (latency 0)")
    for run in runs:
        growth = run["rss_peak_mib"] - run["rss_baseline_mib"]
        print(
            _row(
                f"{run['orders']:,} orders",
                f"{run['rss_peak_mib']:.1f} MiB",
                f"(baseline {run['rss_baseline_mib']:.1f} MiB, +{growth:.1f} MiB during the"
                f" sync; {run['wall_s']:.1f} s, {run['summary']['awarded']:,} awarded)",
            )
        )
        if run.get("python_peak_mib") is not None:
            print(
                _row(
                    "  of which Python heap (tracemalloc peak)", f"{run['python_peak_mib']:.1f} MiB"
                )
            )
    small, large = runs[0], runs[-1]
    ratio = large["rss_peak_mib"] / small["rss_peak_mib"]
    verdict = "ok" if ratio <= MEMORY_TARGET else "over target"
    print(
        _row(
            f"peak {large['orders']:,} / peak {small['orders']:,}",
            f"{ratio:.3f}",
            f"target <= {MEMORY_TARGET} ({verdict})",
        )
    )
    return {"ratio": round(ratio, 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000, help="orders of the latency run")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument("--memory-sizes", default="10000,50000", help="orders, comma-separated")
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--db-dir", type=Path, default=None, help="where the SQLite files go")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument(
        "--parallel",
        action="store_true",
        help="run the memory sizes side by side (faster; their wall times then mean little)",
    )
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="also trace the Python heap of the memory runs (about 3x slower)",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        if args.db_dir is None:
            parser.error("--worker needs --db-dir")
        result = worker(args.orders, args.latency, args.seed, args.db_dir, trace=args.tracemalloc)
        print(json.dumps(result))
        return 0
    orders = 1_000 if args.quick else args.orders
    sizes = sorted([1_000, 5_000] if args.quick else [int(s) for s in args.memory_sizes.split(",")])
    trace = args.tracemalloc
    side_by_side = args.parallel and len(sizes) > 1
    # Every run keeps its SQLite file in one place, tmpfs by default: the runs compare with
    # each other, and what is measured is the sync against the network, not fsync.
    root = args.db_dir if args.db_dir is not None else (SHM if SHM.is_dir() else None)
    db_dir = Path(tempfile.mkdtemp(prefix="sync-bench-", dir=root))
    try:
        started = time.perf_counter()
        timed = run_worker(orders, args.latency, args.seed, db_dir)  # alone: wall time matters
        if side_by_side:  # one process each, so the peaks stay separate
            with ThreadPoolExecutor(max_workers=len(sizes)) as pool:
                memory = list(
                    pool.map(lambda n: run_worker(n, 0.0, args.seed, db_dir, trace=trace), sizes)
                )
        else:
            memory = [run_worker(n, 0.0, args.seed, db_dir, trace=trace) for n in sizes]
        elapsed = time.perf_counter() - started
    finally:
        shutil.rmtree(db_dir, ignore_errors=True)
    plain = next((m for m in memory if m["orders"] == orders), None)
    print()
    latency_result = report_latency(
        timed, needed_requests(orders, args.seed), plain, contended=side_by_side
    )
    print()
    memory_result = report_memory(memory)
    storage = "tmpfs (/dev/shm)" if db_dir.is_relative_to(SHM) else f"{db_dir.parent}"
    runs = "side by side (their wall times are indicative)" if side_by_side else "one by one"
    print(f"\nSQLite files on {storage}; memory runs {runs}. Benchmark: {elapsed:.0f} s.")
    if args.json:
        payload = {
            "latency_run": timed,
            "latency": latency_result,
            "memory_runs": memory,
            "memory": memory_result,
        }
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
