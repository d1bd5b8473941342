"""Verified tokens are remembered until they expire, and only while the key that verified them
is still trusted: a key withdrawn from the identity provider's JWKS refuses at once."""

import time
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from infra import tokens
from infra.settings import Settings
from infra.tokens import InvalidToken, TokenVerifier

SETTINGS = Settings()
KEY = Ed25519PrivateKey.generate()


def token(key: Ed25519PrivateKey = KEY, lifetime_s: int = 600, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "sub": "reader", "role": "reader", "iss": SETTINGS.auth_issuer,
        "aud": SETTINGS.auth_audience, "iat": now, "exp": now + lifetime_s, **claims,
    }  # fmt: skip
    return jwt.encode(payload, key, algorithm="EdDSA")


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens whose signature was checked (each call of `jwt.decode`)."""
    checked: list[str] = []
    decode = jwt.decode

    def counting(encoded: str, *args: Any, **kwargs: Any) -> Any:
        checked.append(encoded)
        return decode(encoded, *args, **kwargs)

    monkeypatch.setattr(tokens.jwt, "decode", counting)
    return checked


def test_a_verified_token_is_checked_once(decodes: list[str]) -> None:
    verifier = TokenVerifier(SETTINGS, public_key=KEY.public_key())
    first, other = token(), token(sub="other")

    claims = [verifier.verify(first), verifier.verify(first), verifier.verify(other)]

    assert [c.sub for c in claims] == ["reader", "reader", "other"]
    assert decodes == [first, other]


def test_a_remembered_token_is_forgotten_at_its_expiry(
    decodes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [time.time()]
    monkeypatch.setattr(tokens.time, "time", lambda: clock[0])
    verifier = TokenVerifier(SETTINGS, public_key=KEY.public_key())
    encoded = token(lifetime_s=600)
    verifier.verify(encoded)
    clock[0] += 599
    verifier.verify(encoded)
    clock[0] += 2  # past `exp` by the verifier's clock: checked again
    verifier.verify(encoded)

    assert decodes == [encoded, encoded]


def test_invalid_tokens_are_not_remembered(decodes: list[str]) -> None:
    verifier = TokenVerifier(SETTINGS, public_key=KEY.public_key())
    forged = token(key=Ed25519PrivateKey.generate())
    for _ in range(2):
        with pytest.raises(InvalidToken):
            verifier.verify(forged)

    assert decodes == [forged, forged]
    assert len(verifier.verified) == 0


@dataclass
class SigningKey:
    key: Any


class Jwks:
    """A stand-in for the identity provider's key set: the keys it publishes now by kid."""

    def __init__(self, keys: dict[str, Any]) -> None:
        self.keys = keys

    def get_signing_key_from_jwt(self, encoded: str) -> SigningKey:
        kid = jwt.get_unverified_header(encoded)["kid"]
        if kid not in self.keys:
            raise jwt.PyJWKClientError(f'Unable to find a signing key that matches: "{kid}"')
        return SigningKey(self.keys[kid])


def test_a_key_withdrawn_from_the_jwks_refuses_its_remembered_tokens_at_once() -> None:
    verifier = TokenVerifier(SETTINGS, public_key=KEY.public_key())
    jwks = Jwks({"k1": KEY.public_key()})
    verifier.jwks = jwks  # type: ignore[assignment]
    encoded = jwt.encode(
        jwt.decode(token(), options={"verify_signature": False}), KEY, algorithm="EdDSA",
        headers={"kid": "k1"},
    )  # fmt: skip
    assert verifier.verify(encoded).sub == "reader"

    del jwks.keys["k1"]
    with pytest.raises(InvalidToken, match="Unable to find a signing key"):
        verifier.verify(encoded)

    jwks.keys["k1"] = Ed25519PrivateKey.generate().public_key()  # the kid now names another key
    with pytest.raises(InvalidToken):
        verifier.verify(encoded)
