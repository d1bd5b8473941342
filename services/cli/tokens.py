"""`zs token issue`: mint a bearer token with the local signing key (the embedded default; a
ministry's identity provider issues its own tokens instead)."""

from typing import Annotated, Any

import typer

from infra.settings import get_settings
from infra.tokens import DEFAULT_LIFETIME_S, local_signing_key, mint

tokens = typer.Typer(help="Bearer tokens signed with the local key.", no_args_is_help=True)
ROLES = ("reader", "auditor", "source", "admin")
LANDS = (
    "DE-BB", "DE-BE", "DE-BW", "DE-BY", "DE-HB", "DE-HE", "DE-HH", "DE-MV",
    "DE-NI", "DE-NW", "DE-RP", "DE-SH", "DE-SL", "DE-SN", "DE-ST", "DE-TH",
)  # fmt: skip
"""The sixteen Länder as ISO 3166-2:DE codes, as the `land` claim names them."""


def claims_for(
    role: str,
    subject: str | None,
    lands: list[str],
    jobcenters: list[str],
    source: str | None,
    types: list[str],
) -> dict[str, Any]:
    """The claims of a token for `role` with its scope."""
    if role not in ROLES:
        raise typer.BadParameter(f"role must be one of {', '.join(ROLES)}")
    if role == "source" and not source:
        raise typer.BadParameter("a source token needs --source NAME")
    if unknown := [land for land in lands if land not in LANDS]:
        raise typer.BadParameter(
            f"unknown Land {', '.join(unknown)}: use an ISO 3166-2:DE code ({', '.join(LANDS)})",
            param_hint="--land",
        )
    claims: dict[str, Any] = {"sub": subject or source or role, "role": role}
    for name, value in (("land", lands), ("jobcenter_id", jobcenters), ("types", types)):
        if value:
            claims[name] = value
    if source:
        claims["source"] = source
    return claims


def demo_token(role: str = "auditor") -> str:
    """A token for the demo banner and the README's examples."""
    settings = get_settings()
    claims = claims_for(role, f"demo-{role}", [], [], None, [])
    return mint(local_signing_key(settings), settings, claims)


@tokens.command("issue")
def issue(
    role: Annotated[str, typer.Option(help="reader, auditor, source or admin.")],
    subject: Annotated[str | None, typer.Option(help="Who the token names (sub).")] = None,
    land: Annotated[list[str], typer.Option(help="A reader's Land, e.g. DE-HE (repeat).")] = [],  # noqa: B006
    jobcenter: Annotated[list[str], typer.Option(help="A jobcenter id (repeat).")] = [],  # noqa: B006
    source: Annotated[str | None, typer.Option(help="The source a source token writes as.")] = None,
    event_type: Annotated[
        list[str], typer.Option("--type", help="An event type a source may send (repeat).")
    ] = [],  # noqa: B006
    days: Annotated[float, typer.Option(help="Lifetime in days.")] = DEFAULT_LIFETIME_S / 86400,
) -> None:
    """Print a token for ROLE, scoped as given, signed with the local key."""
    settings = get_settings()
    claims = claims_for(role, subject, land, jobcenter, source, event_type)
    typer.echo(mint(local_signing_key(settings), settings, claims, round(days * 86400)))
