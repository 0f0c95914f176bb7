"""Fault injection for the emulator: latency, 5xx, throttling, truncated bodies.

All knobs can be given at construction and changed at runtime from any thread::

    faults = EmulatorFaults(latency=0.05, error_rate=0.1, seed=7)
    faults.throttle_every = 10           # every 10th request gets 429 + Retry-After
    faults.enqueue(status=503, count=3)  # the next 3 requests get 503

What the responses look like, and why:

* ``500`` is the JSON WordPress' fatal-error handler sends for REST requests;
* ``502``/``503``/``504`` and ``429`` are HTML pages, as a proxy, host or WAF sends them
  (the ``wc/v3`` API itself has no rate limit), so clients must not expect JSON there;
* a truncated response is a ``200`` whose JSON body is cut short (``truncate_mode="json"``,
  with a matching ``Content-Length``) or whose connection drops mid-body (``"connection"``).
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["EmulatorFaults", "FaultResponse", "ForcedResponse"]

TruncateMode = Literal["json", "connection"]

_WP_FATAL = (
    b'{"code":"internal_server_error","message":"<p>There has been a critical error on this '
    b'website.<\\/p><p><a href=\\"https:\\/\\/wordpress.org\\/documentation\\/article\\/'
    b'faq-troubleshooting\\/\\">Learn more about troubleshooting WordPress.<\\/a><\\/p>",'
    b'"data":{"status":500},"additional_errors":[]}'
)
_REASONS = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}


def _html(status: int) -> bytes:
    reason = _REASONS.get(status, "Error")
    return (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()


@dataclass(frozen=True, slots=True)
class FaultResponse:
    """A canned response the server sends instead of handling the request."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class ForcedResponse:
    """One queued fault (see :meth:`EmulatorFaults.enqueue`)."""

    status: int
    remaining: int
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    retry_after: int | None = None
    path: str | None = None
    truncate: bool = False


def default_fault_response(
    status: int,
    retry_after: int | None = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> FaultResponse:
    """The body and headers a real stack sends for ``status`` (see module doc)."""
    extra = dict(headers or {})
    if body is None:
        if status == 500:
            body = _WP_FATAL
            extra.setdefault("Content-Type", "application/json; charset=UTF-8")
        else:
            body = _html(status)
            extra.setdefault("Content-Type", "text/html")
    if retry_after is not None:
        extra["Retry-After"] = str(retry_after)
    return FaultResponse(status, body, tuple(extra.items()))


class EmulatorFaults:
    """Thread-safe fault knobs consulted by the emulator for every API request.

    Args:
        latency: seconds added to every request.
        latency_jitter: up to this many extra seconds, uniformly random (seeded).
        error_rate: share of requests (0..1) answered with a random status from
            ``error_statuses``.
        error_statuses: 5xx codes drawn for ``error_rate``.
        throttle_every: every N-th request is answered 429 (0 = off).
        rate_limit: allowed requests per second (token bucket; ``None`` = unlimited);
            beyond it 429.
        retry_after: seconds sent in ``Retry-After`` with 429 answers.
        truncate_rate: share of 200 responses sent truncated.
        truncate_mode: ``"json"`` (short body, honest Content-Length) or ``"connection"``.
        seed: seed of the random draws, so runs are reproducible.
    """

    def __init__(
        self,
        *,
        latency: float = 0.0,
        latency_jitter: float = 0.0,
        error_rate: float = 0.0,
        error_statuses: Iterable[int] = (500, 502, 503),
        throttle_every: int = 0,
        rate_limit: float | None = None,
        retry_after: int = 1,
        truncate_rate: float = 0.0,
        truncate_mode: TruncateMode = "json",
        seed: int = 0,
    ) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._latency = latency
        self._latency_jitter = latency_jitter
        self._error_rate = error_rate
        self._error_statuses = tuple(error_statuses)
        self._throttle_every = throttle_every
        self._rate_limit = rate_limit
        self._retry_after = retry_after
        self._truncate_rate = truncate_rate
        self._truncate_mode: TruncateMode = truncate_mode
        self._queue: deque[ForcedResponse] = deque()
        self._seen = 0
        self._tokens = float(rate_limit or 0)
        self._last_refill = time.monotonic()
        self.injected: dict[str, int] = {}

    # ------------------------------------------------------------------ knobs
    def configure(
        self,
        *,
        latency: float | None = None,
        latency_jitter: float | None = None,
        error_rate: float | None = None,
        error_statuses: Iterable[int] | None = None,
        throttle_every: int | None = None,
        rate_limit: float | Literal["unchanged"] | None = "unchanged",
        retry_after: int | None = None,
        truncate_rate: float | None = None,
        truncate_mode: TruncateMode | None = None,
        seed: int | None = None,
    ) -> None:
        """Change several knobs at once (``None`` leaves a knob as it is)."""
        with self._lock:
            if latency is not None:
                self._latency = latency
            if latency_jitter is not None:
                self._latency_jitter = latency_jitter
            if error_rate is not None:
                self._error_rate = error_rate
            if error_statuses is not None:
                self._error_statuses = tuple(error_statuses)
            if throttle_every is not None:
                self._throttle_every = throttle_every
            if rate_limit != "unchanged":
                self._rate_limit = rate_limit
                self._tokens = float(rate_limit or 0)
                self._last_refill = time.monotonic()
            if retry_after is not None:
                self._retry_after = retry_after
            if truncate_rate is not None:
                self._truncate_rate = truncate_rate
            if truncate_mode is not None:
                self._truncate_mode = truncate_mode
            if seed is not None:
                self._rng = random.Random(seed)

    def reset(self) -> None:
        """Switch every fault off and empty the queue."""
        with self._lock:
            self._latency = self._latency_jitter = 0.0
            self._error_rate = self._truncate_rate = 0.0
            self._throttle_every = 0
            self._rate_limit = None
            self._queue.clear()
            self._seen = 0

    @property
    def latency(self) -> float:
        """The ``latency`` knob (thread-safe)."""
        with self._lock:
            return self._latency

    @latency.setter
    def latency(self, value: float) -> None:
        with self._lock:
            self._latency = value

    @property
    def latency_jitter(self) -> float:
        """The ``latency_jitter`` knob (thread-safe)."""
        with self._lock:
            return self._latency_jitter

    @latency_jitter.setter
    def latency_jitter(self, value: float) -> None:
        with self._lock:
            self._latency_jitter = value

    @property
    def error_rate(self) -> float:
        """The ``error_rate`` knob (thread-safe)."""
        with self._lock:
            return self._error_rate

    @error_rate.setter
    def error_rate(self, value: float) -> None:
        with self._lock:
            self._error_rate = value

    @property
    def throttle_every(self) -> int:
        """The ``throttle_every`` knob (thread-safe)."""
        with self._lock:
            return self._throttle_every

    @throttle_every.setter
    def throttle_every(self, value: int) -> None:
        with self._lock:
            self._throttle_every = value

    @property
    def retry_after(self) -> int:
        """The ``retry_after`` knob (thread-safe)."""
        with self._lock:
            return self._retry_after

    @retry_after.setter
    def retry_after(self, value: int) -> None:
        with self._lock:
            self._retry_after = value

    @property
    def truncate_rate(self) -> float:
        """The ``truncate_rate`` knob (thread-safe)."""
        with self._lock:
            return self._truncate_rate

    @truncate_rate.setter
    def truncate_rate(self, value: float) -> None:
        with self._lock:
            self._truncate_rate = value

    @property
    def truncate_mode(self) -> TruncateMode:
        """The ``truncate_mode`` knob (thread-safe)."""
        with self._lock:
            return self._truncate_mode

    @truncate_mode.setter
    def truncate_mode(self, value: TruncateMode) -> None:
        with self._lock:
            self._truncate_mode = value

    @property
    def rate_limit(self) -> float | None:
        """The ``rate_limit`` knob in requests per second (thread-safe)."""
        with self._lock:
            return self._rate_limit

    @rate_limit.setter
    def rate_limit(self, value: float | None) -> None:
        with self._lock:
            self._rate_limit = value
            self._tokens = float(value or 0)
            self._last_refill = time.monotonic()

    # ------------------------------------------------------------------ queue
    def enqueue(
        self,
        status: int = 503,
        count: int = 1,
        *,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        retry_after: int | None = None,
        path: str | None = None,
    ) -> None:
        """Force the next ``count`` responses (to paths containing ``path``, if given).

        ``status=200`` with no body queues *truncated* 200 responses instead. A 429 gets
        ``Retry-After`` from the ``retry_after`` knob unless given here.
        """
        if isinstance(body, str):
            body = body.encode()
        with self._lock:
            self._queue.append(
                ForcedResponse(
                    status=status,
                    remaining=max(1, count),
                    body=body,
                    headers=dict(headers or {}),
                    retry_after=retry_after,
                    path=path,
                    truncate=status == 200 and body is None,
                )
            )

    def clear_queue(self) -> None:
        """Drop all queued faults."""
        with self._lock:
            self._queue.clear()

    @property
    def queued(self) -> int:
        """How many forced responses are still queued."""
        with self._lock:
            return sum(f.remaining for f in self._queue)

    # ------------------------------------------------------------------ decisions
    def delay(self) -> float:
        """Seconds to sleep before answering this request."""
        with self._lock:
            extra = self._rng.uniform(0, self._latency_jitter) if self._latency_jitter else 0.0
            return max(0.0, self._latency + extra)

    def _count(self, kind: str) -> None:
        self.injected[kind] = self.injected.get(kind, 0) + 1

    def before(self, path: str) -> FaultResponse | Literal["truncate"] | None:
        """Decide, before handling, whether this request gets a canned answer."""
        with self._lock:
            self._seen += 1
            for forced in self._queue:
                if forced.path is not None and forced.path not in path:
                    continue
                forced.remaining -= 1
                if forced.remaining <= 0:
                    self._queue.remove(forced)
                self._count(f"forced_{forced.status}")
                if forced.truncate:
                    return "truncate"
                retry = forced.retry_after
                if retry is None and forced.status == 429:
                    retry = self._retry_after
                return default_fault_response(forced.status, retry, forced.body, forced.headers)
            if self._throttle_every and self._seen % self._throttle_every == 0:
                self._count("throttle_429")
                return default_fault_response(429, self._retry_after)
            if self._rate_limit:
                now = time.monotonic()
                capacity = max(1.0, self._rate_limit)
                self._tokens = min(
                    capacity, self._tokens + (now - self._last_refill) * self._rate_limit
                )
                self._last_refill = now
                if self._tokens < 1.0:
                    self._count("rate_limit_429")
                    return default_fault_response(429, self._retry_after)
                self._tokens -= 1.0
            if self._error_rate and self._rng.random() < self._error_rate:
                status = self._rng.choice(self._error_statuses)
                self._count(f"error_{status}")
                return default_fault_response(status)
            return None

    def truncation(self, body_length: int) -> tuple[TruncateMode, int] | None:
        """For a 200 body, whether to truncate it: (mode, bytes to send)."""
        with self._lock:
            if body_length < 2 or not self._truncate_rate:
                return None
            if self._rng.random() >= self._truncate_rate:
                return None
            self._count("truncated")
            return self._truncate_mode, self._rng.randint(1, body_length - 1)

    def forced_truncation(self, body_length: int) -> tuple[TruncateMode, int]:
        """Truncation for a queued ``status=200`` fault."""
        with self._lock:
            return self._truncate_mode, self._rng.randint(1, max(1, body_length - 1))
