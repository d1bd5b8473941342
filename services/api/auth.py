"""Who is calling: the bearer token's principal, its role, and a reader's scope.

Roles: `reader` (scoped by `land` and/or `jobcenter_id` claims; neither means federal: all),
`auditor` (every read, rejections with raw bodies, as-of and audit answers), `source` (ingest
only, as its own `source`, only the `types` and `jobcenter_id`s its token names, where named),
`admin` (operations). No token or an invalid one: 401; a role that may not: 403; outside a
reader's scope: 404, exactly as for an unknown id.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from infra.tokens import InvalidToken, TokenVerifier
from services.api.errors import ApiError

Role = Literal["reader", "auditor", "source", "admin"]
ROLES: tuple[Role, ...] = ("reader", "auditor", "source", "admin")
READERS: tuple[Role, ...] = ("reader", "auditor")

bearer = HTTPBearer(auto_error=False, description="A JWT from the configured identity provider")


def as_list(value: Any) -> tuple[str, ...] | None:
    """A claim that may be one string or a list of strings, as a tuple; None when absent."""
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise InvalidToken("scope claims must be strings or lists of strings")
    return tuple(items)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    subject: str
    role: Role
    lands: tuple[str, ...] | None = None
    jobcenters: tuple[str, ...] | None = None
    source: str | None = None
    types: tuple[str, ...] | None = None

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> "Principal":
        """The principal a verified token names; `InvalidToken` for an unknown role."""
        role = claims.get("role")
        if role not in ROLES:
            raise InvalidToken(f"unknown role {role!r}")
        return cls(
            subject=str(claims["sub"]), role=role, lands=as_list(claims.get("land")),
            jobcenters=as_list(claims.get("jobcenter_id")), source=claims.get("source"),
            types=as_list(claims.get("types")),
        )  # fmt: skip

    @property
    def federal(self) -> bool:
        """Whether it may see every jobcenter (no scope claims, or not a reader)."""
        return self.role != "reader" or (self.lands is None and self.jobcenters is None)

    def sees(self, land: str | None, jobcenter_id: str) -> bool:
        """Whether a jobcenter (in `land`) is within this principal's scope."""
        return (
            self.federal
            or (land is not None and land in (self.lands or ()))
            or jobcenter_id in (self.jobcenters or ())
        )

    def scope_args(self) -> tuple[bool, list[str], list[str]]:
        """(federal, lands, jobcenters): the bound values of `SCOPE` in a query."""
        return self.federal, list(self.lands or ()), list(self.jobcenters or ())


def scope_sql(land: str, jobcenter: str, first: int) -> str:
    """The SQL condition restricting rows to a principal's scope, whose three values
    (`Principal.scope_args`) are bound from parameter `$first` on."""
    federal, lands, jobcenters = (f"${n}" for n in range(first, first + 3))
    return (
        f"({federal}::boolean OR {land} = ANY({lands}::text[]) "
        f"OR {jobcenter} = ANY({jobcenters}::text[]))"
    )


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The caller named by a valid bearer token; 401 otherwise."""
    if credentials is None:
        raise ApiError(401, "unauthenticated", "send a bearer token: Authorization: Bearer <jwt>")
    verifier: TokenVerifier = request.app.state.verifier
    try:
        return Principal.from_claims(verifier.verify(credentials.credentials))
    except InvalidToken as error:
        raise ApiError(401, "unauthenticated", f"the token is not valid: {error}") from None


def require(*roles: Role) -> Callable[..., Any]:
    """A dependency admitting only the given roles (403 for the others)."""

    async def admitted(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if principal.role not in roles:
            raise ApiError(
                403,
                "forbidden",
                f"role {principal.role!r} may not do this (needs {', '.join(roles)})",
            )
        return principal

    return admitted


AnyRole = Annotated[Principal, Depends(require(*ROLES))]
Reader = Annotated[Principal, Depends(require(*READERS))]
Auditor = Annotated[Principal, Depends(require("auditor", "admin"))]
Source = Annotated[Principal, Depends(require("source"))]
Admin = Annotated[Principal, Depends(require("admin"))]
