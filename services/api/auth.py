"""Who is calling: the bearer token's principal, its role, and a reader's scope.

Claims are validated fail-closed by `infra.tokens.Claims` (null, empty, wrong type: 401).
Roles: `reader` (scoped by `land` and/or `jobcenter_id` claims; neither means federal: all),
`auditor` (every read, rejections with raw bodies, as-of and audit answers), `source` (ingest
only, as its own `source`, only the `types` and `jobcenter_id`s its token names, where named),
`admin` (operations). No token or an invalid one: 401; a role that may not: 403; outside a
reader's scope: 404, exactly as for an unknown id.
"""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase

from infra.tokens import Claims, InvalidToken, Role, TokenVerifier
from services.api.errors import ApiError

ROLES: tuple[Role, ...] = ("reader", "auditor", "source", "admin")
READERS: tuple[Role, ...] = ("reader", "auditor")

BEARER_DESCRIPTION = "A JWT from the configured identity provider"


def as_tuple(value: str | list[str] | None) -> tuple[str, ...] | None:
    """A claim that may be one name or a list of names, as a tuple; None when absent."""
    if value is None:
        return None
    return (value,) if isinstance(value, str) else tuple(value)


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
    def from_claims(cls, claims: Claims) -> "Principal":
        """The principal a verified token's validated claims name."""
        return cls(
            subject=claims.sub, role=claims.role, lands=as_tuple(claims.land),
            jobcenters=as_tuple(claims.jobcenter_id), source=claims.source,
            types=as_tuple(claims.types),
        )  # fmt: skip

    @property
    def federal(self) -> bool:
        """Whether it may see every jobcenter (no scope claims, or not a reader)."""
        return self.role != "reader" or (self.lands is None and self.jobcenters is None)

    def sees(self, land: str | None, jobcenter_id: str | None) -> bool:
        """Whether a jobcenter (in `land`) is within this principal's scope; without a
        jobcenter (a Land's or the federal level's), whether the Land is (federal: never)."""
        return (
            self.federal
            or (land is not None and land in (self.lands or ()))
            or (jobcenter_id is not None and jobcenter_id in (self.jobcenters or ()))
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


def authenticate(request: Request) -> Principal:
    """The caller named by the request's valid bearer token; 401 otherwise."""
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "bearer" or not credentials:
        raise ApiError(401, "unauthenticated", "send a bearer token: Authorization: Bearer <jwt>")
    verifier: TokenVerifier = request.app.state.verifier
    try:
        return Principal.from_claims(verifier.verify(credentials))
    except InvalidToken as error:
        raise ApiError(401, "unauthenticated", f"the token is not valid: {error}") from None


class Admitting(SecurityBase):
    """A route's one dependency on its caller: the principal of a valid bearer token (401
    otherwise), admitted only in `roles` (403 for the others). A security scheme, so the
    OpenAPI document names the bearer token on every route that takes one."""

    def __init__(self, *roles: Role) -> None:
        self.model = HTTPBearerModel(description=BEARER_DESCRIPTION)
        self.scheme_name = "HTTPBearer"
        self.roles = roles

    async def __call__(self, request: Request) -> Principal:
        principal = authenticate(request)
        if principal.role not in self.roles:
            raise ApiError(
                403, "forbidden",
                f"role {principal.role!r} may not do this (needs {', '.join(self.roles)})",
            )  # fmt: skip
        return principal


AnyRole = Annotated[Principal, Depends(Admitting(*ROLES))]
Reader = Annotated[Principal, Depends(Admitting(*READERS))]
Auditor = Annotated[Principal, Depends(Admitting("auditor", "admin"))]
Source = Annotated[Principal, Depends(Admitting("source"))]
Admin = Annotated[Principal, Depends(Admitting("admin"))]
