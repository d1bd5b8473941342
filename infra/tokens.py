"""Bearer tokens (JWT): verifying them against the identity provider's public keys, and, for the
embedded default, a local signing key to mint them with.

Verification accepts only asymmetric algorithms (EdDSA, RS256, ES256) and requires `exp`, `sub`,
the configured issuer and audience. Keys come from, in this order: a JWKS URL (a ministry's
identity provider), a PEM public key file, or the local key pair under `<data dir>/auth/`
(created on first use; its private half never leaves that folder).
"""

import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from infra.settings import Settings

ALGORITHMS = ["EdDSA", "RS256", "ES256"]
LOCAL_KEY_FILE = "signing-key.pem"
LOCAL_ALGORITHM = "EdDSA"
DEFAULT_LIFETIME_S = 30 * 24 * 3600


class InvalidToken(Exception):
    """A token that is missing, malformed, expired, or not signed by a trusted key."""


def local_key_path(settings: Settings) -> Path:
    """Where the local signing key lives."""
    return settings.data_dir / "auth" / LOCAL_KEY_FILE


def local_signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The local signing key, created (readable by its owner only) when missing."""
    path = local_key_path(settings)
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise InvalidToken(f"{path} does not hold an Ed25519 private key")
        return key
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.touch(mode=0o600)
    path.write_bytes(pem)
    return key


def mint(
    key: Ed25519PrivateKey,
    settings: Settings,
    claims: Mapping[str, Any],
    lifetime_s: int = DEFAULT_LIFETIME_S,
) -> str:
    """A token signed with the local key, carrying `claims` (at least `sub` and `role`)."""
    now = int(time.time())
    payload = {
        "iss": settings.auth_issuer, "aud": settings.auth_audience, "iat": now,
        "exp": now + lifetime_s, "jti": str(uuid.uuid4()), **claims,
    }  # fmt: skip
    return jwt.encode(payload, key, algorithm=LOCAL_ALGORITHM)


class TokenVerifier:
    """Checks a token's signature and standard claims; returns its claims."""

    def __init__(self, settings: Settings, public_key: Any = None) -> None:
        self.issuer, self.audience = settings.auth_issuer, settings.auth_audience
        self.jwks = jwt.PyJWKClient(settings.auth_jwks_url) if settings.auth_jwks_url else None
        if public_key is not None or self.jwks:
            self.key = public_key
        elif settings.auth_public_key_file:
            self.key = serialization.load_pem_public_key(
                Path(settings.auth_public_key_file).read_bytes()
            )
        else:
            self.key = local_signing_key(settings).public_key()

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid token; raises `InvalidToken` otherwise."""
        try:
            key = self.jwks.get_signing_key_from_jwt(token).key if self.jwks else self.key
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=ALGORITHMS, audience=self.audience, issuer=self.issuer,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )  # fmt: skip
        except (jwt.PyJWTError, ValueError) as error:
            raise InvalidToken(str(error)) from error
        return claims
