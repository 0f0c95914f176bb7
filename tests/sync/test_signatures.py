"""Webhook signatures against the real vectors in /work/shared/fixtures/real."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyalty_plugins.sync.signatures import (
    SHOPIFY_HMAC_HEADER,
    WOOCOMMERCE_SIGNATURE_HEADER,
    sign_shopify,
    sign_woocommerce,
    verify_shopify_hmac,
    verify_woocommerce_signature,
)

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "real"

Verifier = Callable[[bytes, str, "str | None"], bool]
Signer = Callable[[bytes, str], str]


def load_vectors(relative: str) -> tuple[str, list[dict[str, Any]]]:
    document = json.loads((REAL / relative).read_text(encoding="utf-8"))
    return document["header"], document["vectors"]


WOO_HEADER, WOO_VECTORS = load_vectors("woocommerce/webhook-signature-vectors.json")
SHOPIFY_HEADER, SHOPIFY_VECTORS = load_vectors("shopify/webhook-hmac-vectors.json")

PLATFORMS: list[tuple[str, dict[str, Any], Verifier, Signer]] = [
    *[
        (f"woocommerce-{i}", v, verify_woocommerce_signature, sign_woocommerce)
        for i, v in enumerate(WOO_VECTORS)
    ],
    *[
        (f"shopify-{i}", v, verify_shopify_hmac, sign_shopify)
        for i, v in enumerate(SHOPIFY_VECTORS)
    ],
]
IDS = [name for name, *_ in PLATFORMS]


def tampered_bodies(body: bytes) -> list[bytes]:
    flipped = bytes([body[0] ^ 0x01]) + body[1:]
    return [flipped, body + b" ", body + b"\n", body[:-1], b"", body.replace(b'"', b"'")]


def test_vector_files_are_present_and_non_empty() -> None:
    assert WOO_HEADER == WOOCOMMERCE_SIGNATURE_HEADER
    assert SHOPIFY_HEADER == SHOPIFY_HMAC_HEADER
    assert len(WOO_VECTORS) >= 3
    assert len(SHOPIFY_VECTORS) >= 1


@pytest.mark.parametrize(("name", "vector", "verify", "sign"), PLATFORMS, ids=IDS)
def test_vector_verifies(name: str, vector: dict[str, Any], verify: Verifier, sign: Signer) -> None:
    body = vector["body"].encode("utf-8")
    assert verify(body, vector["secret"], vector["expected_header"])
    assert sign(body, vector["secret"]) == vector["expected_header"]


@pytest.mark.parametrize(("name", "vector", "verify", "sign"), PLATFORMS, ids=IDS)
def test_tampered_body_does_not_verify(
    name: str, vector: dict[str, Any], verify: Verifier, sign: Signer
) -> None:
    body = vector["body"].encode("utf-8")
    for bad in tampered_bodies(body):
        if bad == body:
            continue
        assert not verify(bad, vector["secret"], vector["expected_header"]), bad


@pytest.mark.parametrize(("name", "vector", "verify", "sign"), PLATFORMS, ids=IDS)
def test_wrong_secret_does_not_verify(
    name: str, vector: dict[str, Any], verify: Verifier, sign: Signer
) -> None:
    body = vector["body"].encode("utf-8")
    assert not verify(body, vector["secret"] + "x", vector["expected_header"])


@pytest.mark.parametrize(("name", "vector", "verify", "sign"), PLATFORMS, ids=IDS)
def test_header_whitespace_is_tolerated(
    name: str, vector: dict[str, Any], verify: Verifier, sign: Signer
) -> None:
    body = vector["body"].encode("utf-8")
    assert verify(body, vector["secret"], f" {vector['expected_header']}\r\n")


@pytest.mark.parametrize("verify", [verify_woocommerce_signature, verify_shopify_hmac])
@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "   ",
        "not base64 !!",
        "====",
        "Zm9v",  # valid base64, wrong length
        "géC1akFhCtsO7fbXz5XiGUsMsRa4Mt0IJsZ96nTaHjI=",  # non-ASCII
        "geC1akFhCtsO7fbXz5XiGUsMsRa4Mt0IJsZ96nTaHjI",  # missing padding
        "geC1akFhCtsO7fbXz5XiGUsMsRa4Mt0IJsZ96nTaHjI=" * 2,
    ],
)
def test_missing_or_garbage_header_is_false(verify: Verifier, header: str | None) -> None:
    body = WOO_VECTORS[0]["body"].encode("utf-8")
    assert verify(body, WOO_VECTORS[0]["secret"], header) is False


@pytest.mark.parametrize("verify", [verify_woocommerce_signature, verify_shopify_hmac])
def test_wrong_argument_types_return_false(verify: Any) -> None:
    vector = WOO_VECTORS[0]
    assert verify(vector["body"], vector["secret"], vector["expected_header"]) is False  # str body
    assert verify(vector["body"].encode(), vector["secret"], 12345) is False


def test_hex_digest_is_not_accepted_as_a_webhook_hmac() -> None:
    body = WOO_VECTORS[0]["body"].encode("utf-8")
    raw = base64.b64decode(WOO_VECTORS[0]["expected_header"])
    assert not verify_woocommerce_signature(body, WOO_VECTORS[0]["secret"], raw.hex())


@given(body=st.binary(max_size=512), secret=st.text(max_size=64), flip=st.integers(0, 511))
def test_sign_then_verify_round_trip(body: bytes, secret: str, flip: int) -> None:
    for sign, verify in (
        (sign_woocommerce, verify_woocommerce_signature),
        (sign_shopify, verify_shopify_hmac),
    ):
        header = sign(body, secret)
        assert verify(body, secret, header)
        if body:
            index = flip % len(body)
            tampered = body[:index] + bytes([body[index] ^ 0x80]) + body[index + 1 :]
            assert not verify(tampered, secret, header)


@given(header=st.text(max_size=100))
def test_verifiers_never_raise(header: str) -> None:
    assert verify_woocommerce_signature(b"{}", "s", header) in (True, False)
    assert verify_shopify_hmac(b"{}", "s", header) in (True, False)
