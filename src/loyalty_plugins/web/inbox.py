"""Draining the webhook inbox: hand each stored delivery to a processor, once.

The HTTP receiver (:mod:`loyalty_plugins.web.app`) only *stores* deliveries; this module
turns them into work. :func:`drain_inbox` is a plain function so cron can process what a
stopped server left behind; :class:`InboxWorker` runs it from a background thread while
the server is up.

Outcomes of one delivery:

* the processor returns: the row becomes ``processed``;
* the processor raises :class:`~loyalty_plugins.errors.LoyaltyError` (for instance a
  :class:`~loyalty_plugins.errors.MappingError` from :func:`delivery_json`): the body is
  quarantined (resource ``"webhook"``, external id = the delivery id, reason =
  ``str(exc)``) and the row becomes ``quarantined``;
* anything else (a bug, the database going away): the row stays ``pending`` and the
  exception propagates, so nothing is lost and the next run retries it.

Two drainers running at once (the server's worker and a cron job, or several server
processes) can hand the same delivery to the processor twice: the processor must be
idempotent, which the sync engine's order path is by design.
"""

from __future__ import annotations

import json
import logging
import threading
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from loyalty_plugins.errors import LoyaltyError, MappingError
from loyalty_plugins.sync.state import (
    Delivery,
    finish_delivery,
    pending_deliveries,
    quarantine_payload,
)

if TYPE_CHECKING:
    from loyalty_plugins.program import LoyaltyProgram

__all__ = ["Processor", "delivery_json", "drain_inbox"]

log = logging.getLogger(__name__)

#: Turns one stored delivery into loyalty work; raises ``LoyaltyError`` to quarantine it.
Processor = Callable[[Delivery], None]

#: The quarantine ``resource`` used for webhook bodies.
QUARANTINE_RESOURCE = "webhook"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def delivery_json(delivery: Delivery) -> Any:
    """The parsed JSON body of ``delivery``.

    Strict JSON: ``NaN`` and ``Infinity`` are refused. Raises
    :class:`~loyalty_plugins.errors.MappingError` (path ``"body"``) when the body is not
    valid JSON; the reason names the position, never the content.
    """
    try:
        return json.loads(delivery.body, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise MappingError(
            f"body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            path="body",
        ) from None
    except ValueError as exc:
        raise MappingError(f"body is not valid JSON: {exc}", path="body") from None
    except RecursionError:
        raise MappingError("body is not valid JSON: nested too deeply", path="body") from None


def _frames(exc: BaseException) -> str:
    """Where ``exc`` was raised, without its message (which may quote payload data)."""
    return "".join(traceback.format_tb(exc.__traceback__))


def process_delivery(program: LoyaltyProgram, processor: Processor, delivery: Delivery) -> str:
    """Run ``processor`` on one delivery and record the outcome.

    Returns the new status, ``"processed"`` or ``"quarantined"``. Exceptions that are not
    :class:`~loyalty_plugins.errors.LoyaltyError` propagate and leave the row pending.
    """
    try:
        processor(delivery)
    except LoyaltyError as exc:
        reason = str(exc) or type(exc).__name__
        now = program.clock.now()
        quarantine_payload(
            program.db,
            platform=delivery.platform,
            store=delivery.store,
            resource=QUARANTINE_RESOURCE,
            external_id=delivery.delivery_id,
            payload=delivery.body,
            reason=reason,
            now=now,
        )
        finish_delivery(program.db, delivery.id, "quarantined", now, error=reason)
        log.warning(
            "webhook delivery %s (%s %s, topic %s) quarantined: %s",
            delivery.delivery_id,
            delivery.platform,
            delivery.store,
            delivery.topic,
            type(exc).__name__,
        )
        return "quarantined"
    finish_delivery(program.db, delivery.id, "processed", program.clock.now())
    return "processed"


def _drain(
    program: LoyaltyProgram,
    processor: Processor,
    *,
    limit: int,
    stop: threading.Event | None = None,
) -> int:
    done = 0
    for delivery in pending_deliveries(program.db, limit=limit):
        if stop is not None and stop.is_set():
            break
        process_delivery(program, processor, delivery)
        done += 1
    return done


def drain_inbox(program: LoyaltyProgram, processor: Processor, *, limit: int = 100) -> int:
    """Process up to ``limit`` pending deliveries, oldest first; return how many finished.

    Each finished delivery is either ``processed`` or ``quarantined`` (see the module
    docs). An exception that is not a ``LoyaltyError`` stops the run and propagates; that
    delivery and the ones after it stay pending for the next run. Call it in a loop until
    it returns 0 to empty the inbox.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    return _drain(program, processor, limit=limit)


class InboxWorker:
    """A daemon thread that drains the inbox whenever woken, and every ``poll_interval``.

    After an unexpected processor error it backs off (doubling up to ``max_backoff``
    seconds) and retries; the failing delivery stays pending meanwhile.
    """

    def __init__(
        self,
        program: LoyaltyProgram,
        processor: Processor,
        *,
        poll_interval: float = 1.0,
        batch_size: int = 50,
        max_backoff: float = 60.0,
    ) -> None:
        self.program = program
        self.processor = processor
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.max_backoff = max_backoff
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether the thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread (no-op when it runs already)."""
        if self.running:
            return
        self._stop.clear()
        self._wake.set()  # drain leftovers at once
        self._thread = threading.Thread(target=self._run, name="loyalty-inbox-worker", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Ask for a drain now (called after a new delivery was stored)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the delivery in hand, then stop; waits up to ``timeout`` seconds."""
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("inbox worker did not stop within %.1f s", timeout)

    def _run(self) -> None:
        backoff = 0.0
        while not self._stop.is_set():
            if backoff:
                # New deliveries do not cut a back-off short: a failing delivery at the
                # head of the inbox would otherwise be retried on every request.
                if self._stop.wait(backoff):
                    return
            else:
                self._wake.wait(self.poll_interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                while not self._stop.is_set():
                    done = _drain(
                        self.program, self.processor, limit=self.batch_size, stop=self._stop
                    )
                    if not done:
                        break
            except Exception as exc:
                backoff = min(self.max_backoff, max(self.poll_interval, backoff * 2 or 1.0))
                # Type and frames only: exception messages may quote payloads or SQL parameters.
                log.error(
                    "inbox worker: %s while processing; the delivery stays pending, "
                    "retrying in %.1f s\n%s",
                    type(exc).__name__,
                    backoff,
                    _frames(exc),
                )
            else:
                backoff = 0.0
