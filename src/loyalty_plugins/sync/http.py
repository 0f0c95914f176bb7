"""One HTTP policy for every platform adapter: timeouts, retries, backoff, ``Retry-After``.

Everything the sync engine sends goes through :class:`PolicySession`, a
:class:`requests.Session` subclass whose :meth:`~PolicySession.request` applies an
:class:`HttpPolicy`:

* every request gets a timeout (``(connect, read)`` from the policy); ``None`` is never sent;
* connection errors, timeouts, truncated bodies and the statuses in
  ``HttpPolicy.retry_statuses`` (429, 500, 502, 503, 504) are retried with exponential
  backoff and full jitter (``delay = U(0, min(cap, base * 2**(n-1)))``);
* a ``Retry-After`` header (delta-seconds or HTTP-date) is honoured exactly when it is at
  most ``HttpPolicy.max_retry_after``; a longer demanded wait raises
  :class:`~loyalty_plugins.errors.RateLimited` at once instead of sleeping, so the caller can
  reschedule the run;
* when ``max_attempts`` are used up it raises
  :class:`~loyalty_plugins.errors.TransientHttpError` (``status``, ``attempts``);
* any other status (4xx included) is returned untouched; :func:`raise_for_platform_error`
  turns a WooCommerce error envelope ``{"code", "message", "data": {"status"}}`` (or a
  Shopify ``{"errors": ...}`` body) into :class:`~loyalty_plugins.errors.PlatformError`.

**Idempotency.** Retrying a request the server may already have processed can apply it
twice. GET/HEAD/OPTIONS/PUT/DELETE/TRACE are treated as idempotent and retried on every
retryable fault. POST and PATCH are retried only when the request certainly was not
processed (it never reached the server, or the answer was 429); pass ``idempotent=True`` for
a POST that is safe to repeat (a GraphQL query, a WooCommerce batch *update*). A retryable
fault that cannot be retried raises :class:`~loyalty_plugins.errors.TransientHttpError` with
``attempts=1`` so the caller reconciles instead of guessing.

**JSON.** :meth:`PolicySession.request_json` also treats a 2xx whose body is not valid JSON
(a truncated page) as retryable, raises :class:`~loyalty_plugins.errors.PlatformError` for a
4xx, and returns a :class:`JsonResponse` (``.data``, ``.headers``, ``.json()``), which is
what :mod:`loyalty_plugins.sync.paging` consumes. For Shopify GraphQL::

    result = session.request_json("POST", endpoint, json={"query": q, "variables": v},
                                  headers={"X-Shopify-Access-Token": token}, idempotent=True)

**Testing.** ``sleep``, ``clock`` (wall clock, for HTTP-date ``Retry-After``) and ``rng``
(``() -> float`` in ``[0, 1)``, for jitter) are injectable, so tests never really sleep.

**Counters.** Each session owns a :class:`RetryStats` (pass one in to share it between
sessions); ``stats.summary()`` is a one-line report for the sync run summary.

**Secrets.** Nothing here logs a query string or a header without :func:`redact_url` /
:func:`redact_headers`. Errors raised for network failures carry a redacted description and
are raised ``from None``, because urllib3 messages contain the full request path, query string
(``consumer_key``/``consumer_secret`` with ``query_string_auth``) included.

**The ``woocommerce`` package.** ``woocommerce.API`` (3.0.0) calls the module-level
``requests.request`` from its private ``API.__request``; no session can be injected and a
transport adapter mounted on a session would never be used. :class:`PolicyWooCommerceAPI` is a
small ``API`` subclass that overrides that private method (name-mangled ``_API__request``):
it keeps the package's URL building, auth selection (Basic over HTTPS, query-string auth,
OAuth 1.0a over HTTP) and JSON encoding, and sends through a :class:`PolicySession`::

    api = PolicyWooCommerceAPI(url, key, secret, session=PolicySession(policy))
    response = api.get("orders", params={"per_page": 100, "page": 2})

On top of the original it accepts ``idempotent=`` and ``headers=`` per call, uses the
policy's timeouts unless ``timeout=`` is given to the constructor or the call, and in the
OAuth branch sends the query only once (inside the signed URL) and does not forward
``oauth_timestamp`` to ``requests`` (two bugs of the original). The private names it relies
on are checked when this module is imported, so a ``woocommerce`` release that renames them
fails loudly instead of silently bypassing the policy.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from json import dumps as json_dumps
from typing import Any, Final, NoReturn
from urllib.parse import unquote_plus, urlsplit, urlunsplit

import requests
import urllib3.exceptions
import woocommerce.api as _wc_api
import woocommerce.oauth as _wc_oauth
from requests.auth import AuthBase, HTTPBasicAuth
from requests.structures import CaseInsensitiveDict

from loyalty_plugins.errors import (
    ConfigError,
    PlatformError,
    RateLimited,
    SyncError,
    TransientHttpError,
)

__all__ = [
    "DEFAULT_RETRY_STATUSES",
    "IDEMPOTENT_METHODS",
    "REDACTED",
    "SENSITIVE_HEADERS",
    "SENSITIVE_QUERY_KEYS",
    "HttpPolicy",
    "JsonResponse",
    "PolicySession",
    "PolicyWooCommerceAPI",
    "RetryStats",
    "parse_retry_after",
    "platform_error",
    "platform_error_from_envelope",
    "raise_for_platform_error",
    "redact_headers",
    "redact_text",
    "redact_url",
]

logger = logging.getLogger(__name__)

#: Statuses retried by default: throttling and the usual transient server/gateway faults.
DEFAULT_RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})

#: Methods that may be repeated without changing the result (RFC 9110 section 9.2.2).
IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})

#: Replacement for every redacted value.
REDACTED: Final = "REDACTED"

#: Query parameters whose values are secrets (compared case-insensitively).
SENSITIVE_QUERY_KEYS: Final = frozenset(
    {
        "consumer_key",
        "consumer_secret",
        "oauth_consumer_key",
        "oauth_signature",
        "oauth_token",
        "access_token",
        "client_secret",
        "password",
        "token",
    }
)

#: Headers whose values are secrets (compared case-insensitively).
SENSITIVE_HEADERS: Final = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-shopify-access-token",
        "cookie",
        "set-cookie",
    }
)

_SECRET_IN_TEXT = re.compile(
    r"(?i)\b(" + "|".join(sorted(SENSITIVE_QUERY_KEYS)) + r")(=|%3D)([^&\s'\"<>),;]*)"
)
_USERINFO_IN_TEXT = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@'\"<>]+@")
_DELTA_SECONDS = re.compile(r"^\d{1,12}(?:\.\d{1,6})?$")

# Positional order of ``requests.Session.request`` after ``method, url``.
_SESSION_REQUEST_PARAMS: Final = (
    "params",
    "data",
    "headers",
    "cookies",
    "files",
    "auth",
    "timeout",
    "allow_redirects",
    "proxies",
    "hooks",
    "stream",
    "verify",
    "cert",
    "json",
)


# --------------------------------------------------------------------------- redaction


def redact_url(url: str | bytes) -> str:
    """Return ``url`` with secret query values and any ``user:password@`` replaced.

    Only the values of :data:`SENSITIVE_QUERY_KEYS` change; every other byte of the URL
    (order, encoding, fragment) is kept so the result stays useful in a log line.
    """
    text = url.decode("utf-8", "replace") if isinstance(url, bytes) else url
    try:
        parts = urlsplit(text)
    except ValueError:
        return redact_text(text)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    query = "&".join(_redact_query_part(part) for part in parts.query.split("&"))
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _redact_query_part(part: str) -> str:
    key, sep, _value = part.partition("=")
    if sep and unquote_plus(key).strip().lower() in SENSITIVE_QUERY_KEYS:
        return f"{key}={REDACTED}"
    return part


def redact_headers(headers: Mapping[str, str | bytes] | None) -> dict[str, str]:
    """Return a copy of ``headers`` (as ``str``) with :data:`SENSITIVE_HEADERS` redacted."""
    if not headers:
        return {}
    redacted: dict[str, str] = {}
    for name, value in headers.items():
        if name.strip().lower() in SENSITIVE_HEADERS:
            redacted[name] = REDACTED
        else:
            redacted[name] = value.decode("latin-1") if isinstance(value, bytes) else value
    return redacted


def redact_text(text: str) -> str:
    """Redact ``key=value`` secrets and URL user-info inside free text (error messages)."""
    text = _SECRET_IN_TEXT.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return _USERINFO_IN_TEXT.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)


# --------------------------------------------------------------------------- policy


@dataclass(frozen=True, slots=True)
class HttpPolicy:
    """Timeouts and retry rules shared by every adapter (immutable, safe to share).

    Delays are seconds as ``float``. ``max_attempts`` counts the first try.
    """

    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    jitter: bool = True
    max_retry_after: float = 60.0
    retry_statuses: frozenset[int] = DEFAULT_RETRY_STATUSES

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0 < value < float("inf")):
                raise ConfigError(f"must be a positive number of seconds, got {value!r}", key=name)
        for name in ("backoff_base", "backoff_cap", "max_retry_after"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0 <= value < float("inf")):
                raise ConfigError(
                    f"must be a non-negative number of seconds, got {value!r}", key=name
                )
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise ConfigError(f"must be an integer, got {self.max_attempts!r}", key="max_attempts")
        if self.max_attempts < 1:
            raise ConfigError("must be at least 1", key="max_attempts")
        if not isinstance(self.retry_statuses, frozenset):
            object.__setattr__(self, "retry_statuses", frozenset(self.retry_statuses))

    @property
    def timeout(self) -> tuple[float, float]:
        """The ``(connect, read)`` timeout tuple handed to ``requests``."""
        return (float(self.connect_timeout), float(self.read_timeout))

    def backoff_ceiling(self, retry_number: int) -> float:
        """Upper bound of the delay before retry ``retry_number`` (1-based).

        ``min(backoff_cap, backoff_base * 2 ** (retry_number - 1))``.
        """
        exponent = min(max(retry_number, 1) - 1, 64)
        return float(min(self.backoff_cap, self.backoff_base * 2.0**exponent))

    def backoff_delay(self, retry_number: int, rng: Callable[[], float] = random.random) -> float:
        """Delay before retry ``retry_number``: full jitter ``U(0, ceiling)``, or the ceiling.

        Always within ``[0, backoff_cap]``, whatever ``rng`` returns.
        """
        ceiling = self.backoff_ceiling(retry_number)
        if not self.jitter:
            return ceiling
        fraction = min(max(float(rng()), 0.0), 1.0)
        return fraction * ceiling


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header, or ``None`` if absent or unparsable.

    Accepts delta-seconds (``"120"``, also ``"1.5"``) and an HTTP-date, which is measured
    against ``now`` (epoch seconds); a date in the past means ``0.0``.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if _DELTA_SECONDS.match(text):
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; parsedate gives naive for "-0000".
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


# --------------------------------------------------------------------------- stats


@dataclass
class RetryStats:
    """Counters of one sync run (thread-safe increments); print :meth:`summary`."""

    requests: int = 0
    attempts: int = 0
    retries: dict[str, int] = field(default_factory=dict)
    slept_seconds: float = 0.0
    rate_limited: int = 0
    gave_up: int = 0
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    @property
    def total_retries(self) -> int:
        """All retries, whatever the cause."""
        return sum(self.retries.values())

    def record_request(self) -> None:
        """Count one logical request (however many attempts it takes)."""
        with self._lock:
            self.requests += 1

    def record_attempt(self) -> None:
        """Count one attempt sent on the wire."""
        with self._lock:
            self.attempts += 1

    def record_retry(self, cause: str, delay: float) -> None:
        """Count a retry by ``cause`` and the seconds slept before it."""
        with self._lock:
            self.retries[cause] = self.retries.get(cause, 0) + 1
            self.slept_seconds += delay

    def record_rate_limited(self) -> None:
        """Count a :class:`RateLimited` raised (demanded wait over the cap)."""
        with self._lock:
            self.rate_limited += 1

    def record_gave_up(self) -> None:
        """Count a :class:`TransientHttpError` raised."""
        with self._lock:
            self.gave_up += 1

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly snapshot of the counters."""
        with self._lock:
            return {
                "requests": self.requests,
                "attempts": self.attempts,
                "retries": dict(sorted(self.retries.items())),
                "total_retries": sum(self.retries.values()),
                "slept_seconds": round(self.slept_seconds, 3),
                "rate_limited": self.rate_limited,
                "gave_up": self.gave_up,
            }

    def summary(self) -> str:
        """One line for the run summary.

        E.g. ``12 requests, 15 attempts, 3 retries (http_503: 2, invalid_json: 1), slept 1.50 s,
        0 rate-limited, 0 gave up``.
        """
        snap = self.as_dict()
        causes = ", ".join(f"{cause}: {count}" for cause, count in snap["retries"].items())
        retries = f"{snap['total_retries']} retries" + (f" ({causes})" if causes else "")
        return (
            f"{snap['requests']} requests, {snap['attempts']} attempts, {retries}, "
            f"slept {self.slept_seconds:.2f} s, {snap['rate_limited']} rate-limited, "
            f"{snap['gave_up']} gave up"
        )


# --------------------------------------------------------------------------- errors


def platform_error_from_envelope(envelope: object, *, http_status: int) -> PlatformError:
    """Build a :class:`PlatformError` from a decoded error body.

    Understands the WooCommerce/WordPress envelope ``{"code", "message", "data": {"status"}}``
    (also found per item in batch responses) and Shopify's ``{"errors": ...}``; anything else
    becomes ``code="http_<status>"``. The envelope's ``data.status`` wins over ``http_status``
    when it is a valid 4xx/5xx code (batch items arrive in a 200).
    """
    status, code, message = _envelope_parts(envelope, http_status)
    return PlatformError(status, code, redact_text(message), envelope)


def _envelope_parts(envelope: object, http_status: int) -> tuple[int, str, str]:
    status = http_status
    code = f"http_{http_status}"
    message = ""
    if isinstance(envelope, Mapping):
        if isinstance(envelope.get("code"), str) and envelope["code"]:
            code = envelope["code"]
        if isinstance(envelope.get("message"), str):
            message = envelope["message"]
        data = envelope.get("data")
        if isinstance(data, Mapping):
            inner = data.get("status")
            if isinstance(inner, int) and not isinstance(inner, bool) and 400 <= inner <= 599:
                status = inner
        if not message and "errors" in envelope:
            message = _flatten_errors(envelope["errors"])
    return status, code, message


def _flatten_errors(errors: object) -> str:
    if isinstance(errors, str):
        return errors
    if isinstance(errors, Mapping):
        return "; ".join(f"{key}: {_flatten_errors(value)}" for key, value in errors.items())
    if isinstance(errors, list):
        return "; ".join(_flatten_errors(item) for item in errors)
    if errors is None:
        return ""
    return str(errors)


def platform_error(response: requests.Response) -> PlatformError:
    """A :class:`PlatformError` describing the (error) ``response``."""
    try:
        payload: Any = response.json()
    except ValueError:
        payload = None
    status, code, message = _envelope_parts(payload, response.status_code)
    return PlatformError(status, code, redact_text(message or response.reason or ""), payload)


def raise_for_platform_error(response: requests.Response) -> None:
    """Raise :class:`PlatformError` if ``response`` is a 4xx/5xx; do nothing otherwise."""
    if response.status_code >= 400:
        raise platform_error(response)


# --------------------------------------------------------------------------- session


@dataclass(frozen=True, slots=True)
class JsonResponse:
    """A response whose body was decoded once (``data``); paging-compatible (``json()``)."""

    response: requests.Response
    data: Any

    @property
    def headers(self) -> CaseInsensitiveDict[str]:
        """The response headers (case-insensitive)."""
        return self.response.headers

    @property
    def status_code(self) -> int:
        """The HTTP status."""
        return self.response.status_code

    def json(self) -> Any:
        """The already decoded body (no second parse)."""
        return self.data


class _Retry(Exception):
    """Internal: this attempt failed in a retryable way."""

    def __init__(
        self,
        cause: str,
        description: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(description)
        self.cause = cause
        self.description = description
        self.status = status
        self.retry_after = retry_after


class PolicySession(requests.Session):
    """A :class:`requests.Session` whose every request follows an :class:`HttpPolicy`.

    Use it wherever a session is expected (``get``/``post``/... all go through
    :meth:`request`). Extra keyword accepted by :meth:`request` and :meth:`request_json`:
    ``idempotent`` (default: from the method, see the module docstring).
    """

    def __init__(
        self,
        policy: HttpPolicy | None = None,
        *,
        stats: RetryStats | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        log: logging.Logger | None = None,
    ) -> None:
        super().__init__()
        self.policy = policy if policy is not None else HttpPolicy()
        self.stats = stats if stats is not None else RetryStats()
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self._log = log if log is not None else logger

    def request(
        self,
        method: str | bytes,
        url: str | bytes,
        *args: Any,
        idempotent: bool | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send with timeouts and retries; return the final response (4xx included).

        Raises :class:`RateLimited` or :class:`TransientHttpError` as described in the module
        docstring; never returns a response whose status is in ``policy.retry_statuses``.
        """
        merged = _merge_positional(args, kwargs)
        response, _ = self._execute(method, url, merged, idempotent=idempotent, want_json=False)
        return response

    def request_json(
        self,
        method: str,
        url: str,
        *,
        idempotent: bool | None = None,
        **kwargs: Any,
    ) -> JsonResponse:
        """Like :meth:`request`, then decode the JSON body of a 2xx.

        A 2xx body that is not valid JSON (truncated, empty, HTML from a proxy) is retried
        like a 5xx; a 204/205 gives ``data=None``; a 4xx raises :class:`PlatformError`.
        """
        response, data = self._execute(method, url, kwargs, idempotent=idempotent, want_json=True)
        raise_for_platform_error(response)
        return JsonResponse(response=response, data=data)

    # ------------------------------------------------------------------ internals

    def _execute(
        self,
        method: str | bytes,
        url: str | bytes,
        kwargs: dict[str, Any],
        *,
        idempotent: bool | None,
        want_json: bool,
    ) -> tuple[requests.Response, Any]:
        verb = (method.decode("ascii") if isinstance(method, bytes) else method).upper()
        safe = idempotent if idempotent is not None else verb in IDEMPOTENT_METHODS
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.policy.timeout
        shown = f"{verb} {redact_url(url)}"
        max_attempts = self.policy.max_attempts
        self.stats.record_request()
        attempt = 0
        while True:
            attempt += 1
            self.stats.record_attempt()
            try:
                response, data = self._attempt(verb, url, kwargs, safe=safe, want_json=want_json)
            except _Retry as retry:
                if attempt >= max_attempts:
                    self.stats.record_gave_up()
                    raise TransientHttpError(
                        f"{shown}: gave up after {attempt} attempts; last: {retry.description}",
                        status=retry.status,
                        attempts=attempt,
                    ) from None
                delay = (
                    retry.retry_after
                    if retry.retry_after is not None
                    else self.policy.backoff_delay(attempt, self._rng)
                )
                self.stats.record_retry(retry.cause, delay)
                self._log.warning(
                    "%s: %s; retry %d/%d in %.2f s",
                    shown,
                    retry.description,
                    attempt,
                    max_attempts - 1,
                    delay,
                )
                if delay > 0:
                    self._sleep(delay)
                continue
            except _NotRetried as failure:
                self.stats.record_gave_up()
                raise TransientHttpError(
                    f"{shown}: {failure.description}; not retried because the request is not "
                    "idempotent (pass idempotent=True if it is safe to repeat)",
                    status=failure.status,
                    attempts=attempt,
                ) from None
            return response, data

    def _attempt(
        self,
        verb: str,
        url: str | bytes,
        kwargs: dict[str, Any],
        *,
        safe: bool,
        want_json: bool,
    ) -> tuple[requests.Response, Any]:
        """One try. Raises ``_Retry`` (retry allowed) or ``_NotRetried``; else the result."""
        try:
            response = super().request(verb, url, **kwargs)
        except requests.exceptions.SSLError as exc:
            # Certificate/TLS problems do not heal by retrying.
            raise SyncError(f"{verb} {redact_url(url)}: {_describe(exc)}") from None
        except requests.exceptions.ConnectTimeout as exc:
            raise _Retry("connect_timeout", _describe(exc)) from None
        except requests.exceptions.ReadTimeout as exc:
            _retry_or_refuse(safe, "read_timeout", _describe(exc))
        except requests.exceptions.ConnectionError as exc:
            if _never_sent(exc):
                raise _Retry("connection", _describe(exc)) from None
            _retry_or_refuse(safe, "connection", _describe(exc))
        except requests.exceptions.ChunkedEncodingError as exc:
            _retry_or_refuse(safe, "incomplete_body", _describe(exc))

        status = response.status_code
        if status in self.policy.retry_statuses:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), now=self._clock())
            response.close()
            if retry_after is not None and retry_after > self.policy.max_retry_after:
                self.stats.record_rate_limited()
                raise RateLimited(
                    retry_after,
                    f"{verb} {redact_url(url)}: HTTP {status} demands a {retry_after:.0f} s "
                    f"wait, more than the {self.policy.max_retry_after:.0f} s allowed",
                )
            description = f"HTTP {status}"
            if safe or status == 429:  # a 429 was refused, so repeating it is always safe
                raise _Retry(f"http_{status}", description, status=status, retry_after=retry_after)
            raise _NotRetried(description, status=status)

        if want_json and 200 <= status < 300:
            if status in (204, 205):
                return response, None
            try:
                return response, response.json()
            except ValueError:
                description = f"HTTP {status} with a body that is not valid JSON"
                _retry_or_refuse(safe, "invalid_json", description, status=status)
        return response, None


class _NotRetried(Exception):
    def __init__(self, description: str, *, status: int | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.status = status


def _retry_or_refuse(
    safe: bool, cause: str, description: str, *, status: int | None = None
) -> NoReturn:
    """Raise ``_Retry`` when repeating is safe, ``_NotRetried`` otherwise (never returns)."""
    if safe:
        raise _Retry(cause, description, status=status) from None
    raise _NotRetried(description, status=status) from None


def _never_sent(exc: requests.exceptions.ConnectionError) -> bool:
    """True when the connection was never established (refused, DNS): safe for any method."""
    reason: object = exc.args[0] if exc.args else None
    inner = getattr(reason, "reason", reason)
    return isinstance(inner, urllib3.exceptions.NewConnectionError)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {redact_text(str(exc))}"


def _merge_positional(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    if len(args) > len(_SESSION_REQUEST_PARAMS):
        raise TypeError(f"request() takes at most {len(_SESSION_REQUEST_PARAMS) + 2} arguments")
    merged = dict(kwargs)
    for name, value in zip(_SESSION_REQUEST_PARAMS, args, strict=False):
        if name in merged:
            raise TypeError(f"request() got multiple values for argument {name!r}")
        merged[name] = value
    return merged


# --------------------------------------------------------------------------- woocommerce


class PolicyWooCommerceAPI(_wc_api.API):  # type: ignore[misc]
    """``woocommerce.API`` whose requests go through a :class:`PolicySession`.

    Same constructor and methods (``get/post/put/delete/options``, all returning a
    ``requests.Response``) plus ``session=``; per call it also accepts ``idempotent=`` and
    ``headers=``. See the module docstring for why and how.
    """

    def __init__(
        self,
        url: str,
        consumer_key: str,
        consumer_secret: str,
        *,
        session: PolicySession | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(url, consumer_key, consumer_secret, **kwargs)
        self.session: PolicySession = session if session is not None else PolicySession()
        # ``API`` defaults ``timeout`` to 5 s; only an explicit one overrides the policy.
        self._explicit_timeout: Any = kwargs.get("timeout")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.url!r}, version={self.version!r})"

    def get_json(self, endpoint: str, **kwargs: Any) -> JsonResponse:
        """GET with the JSON mode of the policy: a truncated or invalid body is retried and
        a WooCommerce error envelope raises :class:`PlatformError`."""
        result: JsonResponse = self._policy_request("GET", endpoint, None, want_json=True, **kwargs)
        return result

    def post_json(self, endpoint: str, data: Any, **kwargs: Any) -> JsonResponse:
        """POST in JSON mode (pass ``idempotent=True`` only when repeating is safe)."""
        result: JsonResponse = self._policy_request(
            "POST", endpoint, data, want_json=True, **kwargs
        )
        return result

    def _policy_request(
        self,
        method: str,
        endpoint: str,
        data: Any,
        params: Mapping[str, Any] | None = None,
        *,
        want_json: bool = False,
        **kwargs: Any,
    ) -> Any:
        query: dict[str, Any] = dict(params or {})
        idempotent: bool | None = kwargs.pop("idempotent", None)
        oauth_timestamp = kwargs.pop("oauth_timestamp", None)
        extra_headers: Mapping[str, str] | None = kwargs.pop("headers", None)
        url: str = self._API__get_url(endpoint)
        headers = {"user-agent": f"{self.user_agent}", "accept": "application/json"}

        auth: AuthBase | None = None
        if self.is_ssl and not self.query_string_auth:
            auth = HTTPBasicAuth(self.consumer_key, self.consumer_secret)
        elif self.is_ssl:
            query.update(
                {"consumer_key": self.consumer_key, "consumer_secret": self.consumer_secret}
            )
        else:
            # OAuth 1.0a over plain HTTP: signed when each attempt is prepared, so a retry
            # carries a fresh nonce and timestamp (WooCommerce rejects a replayed nonce).
            auth = _WooOAuth1(self, oauth_timestamp)

        body: bytes | None = None
        if data is not None:
            body = json_dumps(data, ensure_ascii=False).encode("utf-8")
            headers["content-type"] = "application/json;charset=utf-8"
        if extra_headers:
            headers.update(extra_headers)

        timeout = kwargs.pop("timeout", None) or self._explicit_timeout
        send = self.session.request_json if want_json else self.session.request
        return send(
            method,
            url,
            params=query or None,
            data=body,
            headers=headers,
            auth=auth,
            verify=kwargs.pop("verify", self.verify_ssl),
            timeout=timeout,
            idempotent=idempotent,
            **kwargs,
        )

    # ``API`` calls ``self.__request``, i.e. ``self._API__request``: route it to the policy.
    _API__request = _policy_request


class _WooOAuth1(AuthBase):
    """Signs each prepared request with WooCommerce's one-legged OAuth 1.0a."""

    def __init__(self, api: PolicyWooCommerceAPI, timestamp: Any = None) -> None:
        self.api = api
        self.timestamp = timestamp

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        extra = {} if self.timestamp is None else {"oauth_timestamp": self.timestamp}
        request.url = _wc_oauth.OAuth(
            url=request.url,
            consumer_key=self.api.consumer_key,
            consumer_secret=self.api.consumer_secret,
            version=self.api.version,
            method=request.method,
            **extra,
        ).get_oauth_url()
        return request


def _check_woocommerce_hooks() -> None:
    for name in ("_API__request", "_API__get_url"):
        if not callable(getattr(_wc_api.API, name, None)):
            raise ImportError(
                f"woocommerce.API has no {name}; PolicyWooCommerceAPI cannot route this "
                "version of the woocommerce package through the HTTP policy"
            )


_check_woocommerce_hooks()
