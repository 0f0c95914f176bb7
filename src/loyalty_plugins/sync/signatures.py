"""Webhook signatures: WooCommerce ``X-WC-Webhook-Signature``, Shopify ``X-Shopify-Hmac-Sha256``.

Both platforms send ``base64(HMAC-SHA256(key=secret, msg=raw request body))``. Verify the
**raw** bytes exactly as received, before any JSON decoding or re-encoding. The verifiers
compare in constant time (:func:`hmac.compare_digest`) and never raise: a missing, empty,
non-base64 or wrong header is simply ``False``.

WooCommerce HTML-entity-decodes the stored secret before signing
(``wp_specialchars_decode``); pass the secret exactly as configured, and prefer plain
alphanumeric secrets. The WooCommerce creation ping (``webhook_id=<id>``, form-encoded) carries
no signature and therefore never verifies: answer it 200 without processing it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

__all__ = [
    "SHOPIFY_HMAC_HEADER",
    "WOOCOMMERCE_SIGNATURE_HEADER",
    "sign_shopify",
    "sign_woocommerce",
    "verify_shopify_hmac",
    "verify_woocommerce_signature",
]

#: Header carrying the WooCommerce webhook signature.
WOOCOMMERCE_SIGNATURE_HEADER = "X-WC-Webhook-Signature"

#: Header carrying the Shopify webhook HMAC.
SHOPIFY_HMAC_HEADER = "X-Shopify-Hmac-Sha256"


def _digest(body: bytes, secret: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()


def _sign(body: bytes, secret: str) -> str:
    return base64.b64encode(_digest(body, secret)).decode("ascii")


def _verify(raw_body: bytes, secret: str, header: str | None) -> bool:
    if header is None:
        return False
    try:
        provided = base64.b64decode(header.strip().encode("ascii"), validate=True)
        expected = _digest(bytes(raw_body), secret)
    except (AttributeError, TypeError, ValueError, UnicodeError, binascii.Error):
        return False
    if not provided:
        return False
    return hmac.compare_digest(provided, expected)


def sign_woocommerce(body: bytes, secret: str) -> str:
    """The ``X-WC-Webhook-Signature`` value WooCommerce would send for ``body``."""
    return _sign(body, secret)


def sign_shopify(body: bytes, secret: str) -> str:
    """The ``X-Shopify-Hmac-Sha256`` value Shopify would send for ``body``."""
    return _sign(body, secret)


def verify_woocommerce_signature(raw_body: bytes, secret: str, header: str | None) -> bool:
    """True iff ``header`` is the WooCommerce signature of ``raw_body`` under ``secret``."""
    return _verify(raw_body, secret, header)


def verify_shopify_hmac(raw_body: bytes, secret: str, header: str | None) -> bool:
    """True iff ``header`` is the Shopify webhook HMAC of ``raw_body`` under the client secret."""
    return _verify(raw_body, secret, header)
