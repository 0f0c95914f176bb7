"""WooCommerce REST authentication as ``WC_REST_Authentication`` does it.

* HTTP Basic auth, or ``consumer_key``/``consumer_secret`` in the query string. Core only
  honours these over HTTPS; the emulator speaks plain HTTP and accepts them anyway, as a
  shop behind a TLS-terminating proxy would. A known key with a wrong secret answers
  ``Consumer secret is invalid.``; an unknown key falls through to OAuth and so ends up
  unauthenticated (``woocommerce_rest_cannot_view``), as in core.
* One-legged OAuth 1.0a (what the ``woocommerce`` package uses for ``http://`` URLs):
  HMAC-SHA1 or HMAC-SHA256 over ``METHOD&rawurlencode(url)&normalized params`` with the key
  ``consumer_secret + "&"``, a 15-minute timestamp window and single-use nonces.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, unquote_plus

from .models import WooRestError

__all__ = [
    "ApiKey",
    "AuthOutcome",
    "Authenticator",
    "oauth_signature",
    "parse_php_query",
]

_OAUTH_PARAMS = (
    "oauth_consumer_key",
    "oauth_timestamp",
    "oauth_nonce",
    "oauth_signature",
    "oauth_signature_method",
)
_VALID_WINDOW = 15 * 60
_BASIC_REALM = (
    'Basic realm="WooCommerce API. Use a consumer key in the username field and a consumer '
    'secret in the password field."'
)


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A REST API key: ``permissions`` is ``read``, ``write`` or ``read_write``."""

    consumer_key: str
    consumer_secret: str
    permissions: str = "read_write"
    user_id: int = 1


@dataclass(frozen=True, slots=True)
class AuthOutcome:
    """Result of authenticating one request (``key`` is None when anonymous)."""

    key: ApiKey | None
    error: WooRestError | None
    method: str


def parse_php_query(query: str) -> dict[str, Any]:
    """Parse a query string like PHP's ``$_GET``.

    Repeated plain keys: the last one wins (``status=a&status=b`` is ``b``!). ``k[]=``
    builds a list and ``k[x]=`` a dict, one level deep.
    """
    result: dict[str, Any] = {}
    if not query:
        return result
    for part in query.split("&"):
        if not part:
            continue
        raw_key, _, raw_value = part.partition("=")
        key = unquote_plus(raw_key)
        value = unquote_plus(raw_value)
        if not key:
            continue
        match = re.match(r"^([^\[\]]+)\[([^\[\]]*)\]", key)
        if match:
            base, sub = match.groups()
            container = result.get(base)
            if sub == "":
                if not isinstance(container, list | dict):
                    container = []
                    result[base] = container
                if isinstance(container, list):
                    container.append(value)
                else:
                    container[str(len(container))] = value
            else:
                if not isinstance(container, dict):
                    container = dict(enumerate(container)) if isinstance(container, list) else {}
                    container = {str(k): v for k, v in container.items()}
                    result[base] = container
                container[sub] = value
        else:
            result[key] = value
    return result


def _rfc3986(value: str) -> str:
    return quote(value, safe="~")


def _join_with_equals(params: Mapping[str, Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for key, value in params.items():
        name = f"{prefix}%5B{key}%5D" if prefix else key
        if isinstance(value, Mapping):
            out.extend(_join_with_equals(value, name))
        elif isinstance(value, list):
            out.extend(_join_with_equals({str(i): v for i, v in enumerate(value)}, name))
        else:
            out.append(_rfc3986(f"{name}={value}"))
    return out


def _normalize(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _normalize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize(v) for v in value]
    return _rfc3986(str(value))


def oauth_signature(
    method: str, base_url: str, params: Mapping[str, Any], consumer_secret: str, algorithm: str
) -> str:
    """The signature core expects (``check_oauth_signature``) for these parameters."""
    ordered = {k: params[k] for k in sorted(params) if k != "oauth_signature"}
    normalized = {_rfc3986(k): _normalize(v) for k, v in ordered.items()}
    query_string = "%26".join(_join_with_equals(normalized))
    to_sign = f"{method.upper()}&{_rfc3986(base_url)}&{query_string}"
    digest = hashlib.sha1 if algorithm == "sha1" else hashlib.sha256
    mac = hmac.new(f"{consumer_secret}&".encode(), to_sign.encode(), digest).digest()
    return base64.b64encode(mac).decode()


def _auth_error(message: str, code: str = "woocommerce_rest_authentication_error") -> WooRestError:
    return WooRestError(401, code, message)


class Authenticator:
    """Checks credentials of incoming requests against a set of API keys."""

    def __init__(self, keys: list[ApiKey], *, check_timestamp: bool = True) -> None:
        self._keys = {k.consumer_key: k for k in keys}
        self._nonces: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()
        self.check_timestamp = check_timestamp

    def add_key(self, key: ApiKey) -> None:
        """Register another API key."""
        with self._lock:
            self._keys[key.consumer_key] = key

    def authenticate(
        self,
        method: str,
        base_url: str,
        query: Mapping[str, Any],
        headers: Mapping[str, str],
    ) -> AuthOutcome:
        """Authenticate one request (``base_url`` is scheme://host/path without query)."""
        # 1. Basic auth: query-string credentials first, then the Authorization header.
        consumer_key = consumer_secret = ""
        if query.get("consumer_key") and query.get("consumer_secret"):
            consumer_key = str(query["consumer_key"])
            consumer_secret = str(query["consumer_secret"])
        header = headers.get("Authorization", "") or ""
        if not consumer_key and header[:6].lower() == "basic ":
            try:
                decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            consumer_key, _, consumer_secret = decoded.partition(":")
        if consumer_key and consumer_secret:
            with self._lock:
                key = self._keys.get(consumer_key)
            if key is not None:
                if hmac.compare_digest(key.consumer_secret, consumer_secret):
                    return AuthOutcome(key, None, "basic_auth")
                error = _auth_error("Consumer secret is invalid.")
                error.headers["WWW-Authenticate"] = _BASIC_REALM
                return AuthOutcome(None, error, "basic_auth")
        # 2. OAuth 1.0a one-legged.
        params: dict[str, Any] = dict(query)
        if header[:6] == "OAuth ":
            for name, quoted, bare in re.findall(r'(oauth_[a-z_-]*)=(?:"([^"]*)"|([^,]*))', header):
                params[name] = unquote(quoted or bare)
        present = [p for p in _OAUTH_PARAMS if params.get(p)]
        if not present:
            return AuthOutcome(None, None, "")
        missing = [p for p in _OAUTH_PARAMS if not params.get(p)]
        if missing:
            noun = "parameter" if len(missing) == 1 else "parameters"
            return AuthOutcome(
                None,
                _auth_error(
                    f"Missing OAuth {noun} {', '.join(missing)}",
                    "woocommerce_rest_authentication_missing_parameter",
                ),
                "oauth1",
            )
        with self._lock:
            key = self._keys.get(str(params["oauth_consumer_key"]))
        if key is None:
            return AuthOutcome(None, _auth_error("Consumer key is invalid."), "oauth1")
        sig_method = str(params["oauth_signature_method"])
        if sig_method not in ("HMAC-SHA1", "HMAC-SHA256"):
            return AuthOutcome(
                None, _auth_error("Invalid signature - signature method is invalid."), "oauth1"
            )
        provided = unquote(str(params["oauth_signature"]).replace(" ", "+"))
        expected = oauth_signature(
            method, base_url, params, key.consumer_secret, sig_method[5:].lower()
        )
        if not hmac.compare_digest(expected, provided):
            return AuthOutcome(
                None,
                _auth_error("Invalid signature - provided signature does not match."),
                "oauth1",
            )
        replay = self._check_timestamp_and_nonce(
            key, params["oauth_timestamp"], params["oauth_nonce"]
        )
        if replay is not None:
            return AuthOutcome(None, replay, "oauth1")
        return AuthOutcome(key, None, "oauth1")

    def _check_timestamp_and_nonce(
        self, key: ApiKey, raw_timestamp: Any, nonce: Any
    ) -> WooRestError | None:
        now = time.time()
        try:
            timestamp = int(str(raw_timestamp))
        except ValueError:
            timestamp = 0
        if self.check_timestamp and abs(timestamp - now) > _VALID_WINDOW:
            return _auth_error("Invalid timestamp.")
        with self._lock:
            used = self._nonces.setdefault(key.consumer_key, {})
            for old, seen in list(used.items()):
                if seen < now - _VALID_WINDOW:
                    del used[old]
            if str(nonce) in used:
                return _auth_error("Invalid nonce - nonce has already been used.")
            used[str(nonce)] = now
        return None

    @staticmethod
    def permission_error(key: ApiKey, method: str) -> WooRestError | None:
        """The key-permission check core runs before dispatch (read vs write keys)."""
        if method in ("GET", "HEAD"):
            if key.permissions not in ("read", "read_write"):
                return _auth_error("The API key provided does not have read permissions.")
        elif method in ("POST", "PUT", "PATCH", "DELETE"):
            if key.permissions not in ("write", "read_write"):
                return _auth_error("The API key provided does not have write permissions.")
        elif method != "OPTIONS":
            return _auth_error("Unknown request method.")
        return None
