"""What the command-line modules share: settings, store, org sessions, error display."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from dure.errors import DureError
from dure.settings import Settings


def settings_of(ctx: click.Context) -> Settings:
    """The settings the ``dure`` group read from its options and the environment."""
    return ctx.obj["settings"]  # type: ignore[no-any-return]


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Show Dure errors as one clear line and exit 2, never as a traceback."""

    @wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DureError as exc:
            click.echo(f"error: {exc.detail}", err=True)
            for item in getattr(exc, "errors", [])[:20]:
                click.echo(
                    f"  {item['file']}, row {item['row']}, column {item['column']!r}: "
                    f"{item['reason']}",
                    err=True,
                )
            sys.exit(2)

    return run


def open_store(ctx: click.Context):  # type: ignore[no-untyped-def]
    """The store of the settings in force, migrated to the current schema."""
    from dure.store.session import Store

    return Store.open(settings_of(ctx))


def org_session(ctx: click.Context, slug: str):  # type: ignore[no-untyped-def]
    """A session acting as the administrator of the organisation ``slug``."""
    from dure.services.platform.accounts import system_caller

    store = open_store(ctx)
    with store.system() as s:
        organisation = s.organisations.get_by_slug(slug)
    return store.session(system_caller(organisation))


def write_json(out: Path | None, results: dict[str, Any]) -> None:
    """Write benchmark results to ``out`` when one was asked for."""
    if out is None:
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    click.echo(f"wrote {out}")


out_option = click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the results as JSON here.",
)
seeds_option = click.option(
    "--seeds", type=int, default=1, show_default=True, help="Repeat with seeds 0..K-1."
)
data_root_option = click.option(
    "--data-root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="../shared/data for the public sets, or your folder.",
)


def print_summary(results: dict[str, Any]) -> None:
    """A benchmark's summary as a table of mean and sd per figure."""
    click.echo(f"{'figure':26} {'mean':>10} {'sd':>8}")
    for key, value in results["summary"].items():
        click.echo(f"{key:26} {value['mean']:10.4f} {value['sd']:8.4f}")


def part_id_of(session, org_slug: str, part_number: str) -> str:  # type: ignore[no-untyped-def]
    """The id of the organisation's part ``part_number``; NotFound saying how to add it."""
    from dure.errors import NotFound

    found = session.parts.list(number=part_number).items
    if not found:
        raise NotFound(
            f"no part {part_number!r} in {org_slug}; create it with "
            f"`dure setup part {part_number} --name NAME --org {org_slug}` "
            "(or on the dashboard's Setup page)"
        )
    return found[0].id  # type: ignore[no-any-return]
