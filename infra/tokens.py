"""Bearer tokens (JWT): verifying them against the identity provider's public keys, and, for the
embedded default, a local signing key to mint them with.

Verification accepts only the asymmetric algorithm of the trusted key (EdDSA for Ed25519, RS256
for RSA, ES256 for P-256; any other `alg` in a token's header is refused) and requires `exp`,
`sub`, `role`, the configured issuer and audience. The claims are then validated fail-closed
(`Claims`): a claim that is null, empty or of the wrong type refuses the token. Keys come from,
in this order: a JWKS URL (a ministry's identity provider), a PEM public key file, or the local
key pair under `<data dir>/auth/` (created on first use; its private half never leaves that
folder).

A verified token is remembered (bounded, least recently used first out) until its `exp`: the
same token again costs a dictionary look-up instead of a signature check. A remembered token
counts only while the key that verified it is still the one its header resolves to now: a key
the identity provider has withdrawn from its JWKS refuses the token at once, as before.
"""

import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import jwt
from cachetools import TLRUCache
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from infra.settings import Settings

KEY_ALGORITHMS = (
    (Ed25519PublicKey, "EdDSA"), (RSAPublicKey, "RS256"), (EllipticCurvePublicKey, "ES256"),
)  # fmt: skip
"""The one algorithm a token may name for each kind of trusted key."""
REQUIRED_CLAIMS = ["exp", "sub", "iss", "aud"]
LOCAL_KEY_FILE = "signing-key.pem"
LOCAL_ALGORITHM = "EdDSA"
DEFAULT_LIFETIME_S = 30 * 24 * 3600
REMEMBERED_TOKENS = 4096
"""Verified tokens a verifier remembers at most (each until its `exp`)."""


class InvalidToken(Exception):
    """A token that is missing, malformed, expired, or not signed by a trusted key."""


Role = Literal["reader", "auditor", "source", "admin"]
Name = Annotated[str, Field(min_length=1)]
Names = Annotated[list[Name], Field(min_length=1)]
NumericDate = Annotated[int | float, Field(allow_inf_nan=False)]
"""Seconds since the epoch, as JSON numbers (RFC 7519), never strings or booleans."""


class Claims(BaseModel):
    """The claims of a verified token, validated fail-closed: a claim named here that is null,
    empty or of the wrong type refuses the token; so does a `source` token without `source`.
    `land`, `jobcenter_id` and `types` are one name or a non-empty list of names; other claims
    (`jti`, the identity provider's own) are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    sub: Name
    role: Role
    exp: NumericDate
    iat: NumericDate | None = None
    nbf: NumericDate | None = None
    land: Name | Names | None = None
    jobcenter_id: Name | Names | None = None
    source: Name | None = None
    types: Name | Names | None = None

    @model_validator(mode="before")
    @classmethod
    def no_null(cls, data: Any) -> Any:
        """A claim sent as null is refused, never read as absent (a reader with `"land": null`
        would otherwise be federal)."""
        if isinstance(data, dict):
            nulls = sorted(name for name, value in data.items() if value is None)
            if nulls:
                raise ValueError(f"null claims: {', '.join(nulls)}")
        return data

    @model_validator(mode="after")
    def source_named(self) -> "Claims":
        """A source token names the source it writes as."""
        if self.role == "source" and self.source is None:
            raise ValueError("a source token needs a `source` claim")
        return self


def algorithms_for(key: Any) -> list[str]:
    """The algorithm a token signed by `key` must name (none for a key of another kind)."""
    return [name for kind, name in KEY_ALGORITHMS if isinstance(key, kind)]


def validated(claims: dict[str, Any]) -> Claims:
    """`claims` as `Claims`; `InvalidToken` naming each problem otherwise."""
    try:
        return Claims.model_validate(claims)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'claims'}: {problem['msg']}"
            for problem in error.errors()
        )
        raise InvalidToken(problems) from None


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
        self.verified: TLRUCache[str, tuple[Claims, Any]] = TLRUCache(
            REMEMBERED_TOKENS, until_expiry, timer=time.time
        )

    def verify(self, token: str) -> Claims:
        """The validated claims of a valid token; raises `InvalidToken` otherwise (also for a
        token naming an algorithm other than the trusted key's). Remembered until `exp`."""
        try:
            key = self.jwks.get_signing_key_from_jwt(token).key if self.jwks else self.key
        except (jwt.PyJWTError, ValueError, TypeError) as error:
            raise InvalidToken(str(error)) from error
        remembered = self.verified.get(token)
        if remembered is not None and remembered[1] is key:
            return remembered[0]
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=algorithms_for(key), audience=self.audience,
                issuer=self.issuer, options={"require": REQUIRED_CLAIMS},
            )  # fmt: skip
        except (jwt.PyJWTError, ValueError, TypeError) as error:
            raise InvalidToken(str(error)) from error
        valid = validated(claims)
        self.verified[token] = (valid, key)
        return valid


def until_expiry(_token: str, verified: tuple[Claims, Any], _now: float) -> float:
    """When a remembered token is forgotten: at its `exp` (seconds since the epoch)."""
    return float(verified[0].exp)
