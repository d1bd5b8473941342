"""`zs demo seed|national`: publish a demo data set through the broker into a running system
(`zs up` on this data folder, or the configured servers), as the upstream systems would, and
wait until it is recorded and projected; print how long that took."""

import asyncio
import time
from collections.abc import Mapping, Sequence

import typer
from rich.console import Console

from infra.database import redact
from infra.embedded import SERVICES_USER, broker_passwords
from infra.roles import DbRole
from infra.settings import get_settings
from services.bootstrap import Servers, open_store, running_servers, servers
from services.cli.demo import demo_envelopes
from services.cli.national import NATIONAL_JOBCENTERS, national_envelopes
from services.cli.publish import Tally
from services.cli.up import DEMO_WAIT_S, NATIONAL_WAIT_S, demo_sources, publish_demo

demos = typer.Typer(help="Publish demo data into a running `zs up`.", no_args_is_help=True)


def load(envelopes: Sequence[Mapping[str, object]], wait_s: float) -> None:
    """Publish `envelopes` to the running system and print what became of them and how fast."""
    settings = get_settings()
    if not settings.broker_url and running_servers(settings) is None:
        raise typer.BadParameter(
            "start `zs up` on this data folder first (ZS_DATA_DIR), or set ZS_BROKER_URL and "
            "ZS_DATABASE_URL to a running system's servers"
        )
    channels = settings.source_names or demo_sources()
    if not settings.broker_url:  # the embedded broker: the sources that have a user
        users = broker_passwords(settings.data_dir)
        channels = [user.removeprefix("source-") for user in users if user != SERVICES_USER]
    if missing := sorted({str(e["source"]) for e in envelopes} - set(channels)):
        raise typer.BadParameter(
            f"the running system has no broker channel for {', '.join(missing)}: restart "
            "`zs up` (its default channels include the demos' sources) or add them to "
            "ZS_BROKER_SOURCES"
        )
    settings = settings.model_copy(update={"broker_sources": ",".join(channels)})
    console = Console(stderr=True)

    async def go(urls: Servers) -> tuple[Tally | None, float, float]:
        async with open_store(urls.database_url, settings) as store:
            head = await store.last_position()
            started = time.monotonic()
            tally = await publish_demo(store, settings, urls.broker_url, envelopes, wait_s,
                                       console)  # fmt: skip
            return tally, time.monotonic() - started, await store.last_position() - head

    with servers(settings, [DbRole.API]) as urls:
        console.print(f"publishing {len(envelopes):,} messages to {redact(urls.broker_url)}")
        tally, seconds, grown = asyncio.run(go(urls))
    if tally is None:
        typer.echo(f"published {len(envelopes)}; not settled and projected within {wait_s:.0f} s")
        raise typer.Exit(1)
    typer.echo(
        f"published {tally.published}: recorded {tally.recorded}, duplicate {tally.duplicate}, "
        f"rejected {tally.rejected}; recorded and projected in {seconds:.1f} s "
        f"({tally.published / seconds:,.0f} msg/s; the log grew by {grown})"
    )


@demos.command()
def seed() -> None:
    """The seed demo (published agreements of the Odenwaldkreis, Main-Kinzig-Kreis and
    Rhein-Kreis Neuss, the NRW framework agreement), as `zs up` loads it on first start."""
    load(demo_envelopes(), DEMO_WAIT_S)


@demos.command()
def national(
    jobcenters: int = typer.Option(
        NATIONAL_JOBCENTERS,
        min=1,
        max=NATIONAL_JOBCENTERS,
        help="How many jobcenters (a smaller variant keeps the national split).",
    ),
    years: int = typer.Option(3, min=1, max=10, help="Agreement years, up to 2026."),
    seed: int = typer.Option(1, help="The random seed: the same seed, the same messages."),
    wait: float = typer.Option(NATIONAL_WAIT_S, help="Seconds to wait for the outcome."),
) -> None:
    """The national demo: 404 jobcenters in 16 Länder with their comparison types, the federal
    and Land agreements, a jobcenter agreement per year and three years of monthly figures with
    preliminary months and corrections (docs/operations.md, "The national demo")."""
    load(national_envelopes(jobcenters, years, seed), wait)
