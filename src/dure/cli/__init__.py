"""`dure …`: the main command group and the registration of every command under it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dure.cli.backups import backup, restore
from dure.cli.bench import bench, testbed
from dure.cli.connect import connect
from dure.cli.edge import edge
from dure.cli.imports import import_
from dure.cli.plant import setup as setup_group
from dure.cli.setup import demo, init, org, token, up, user
from dure.cli.vision import inspect, train
from dure.cli.work import work
from dure.settings import Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(path_type=Path),
    envvar="DURE_HOME",
    default=None,
    help="Data folder (default ./var, or $DURE_HOME).",
)
@click.option(
    "--database-url",
    envvar="DURE_DATABASE_URL",
    default=None,
    help="postgresql://user@host/db for a site server; default is SQLite in the data folder.",
)
@click.pass_context
def main(ctx: click.Context, home: Path | None, database_url: str | None) -> None:
    """Dure: manufacturing AI for an OEM and its suppliers, on your own machine.

    Start with `dure up` (sets up the store, loads the demo factory, serves on
    http://127.0.0.1:8000), or `dure init` then `dure org create` for a real install.
    """
    kwargs: dict[str, Any] = {}
    if home is not None:
        kwargs["home"] = home
    if database_url:
        kwargs["database_url"] = database_url
    ctx.obj = {"settings": Settings(**kwargs)}


for _command in (
    init,
    demo,
    up,
    org,
    user,
    token,
    setup_group,
    import_,
    train,
    inspect,
    connect,
    work,
    edge,
    bench,
    testbed,
    backup,
    restore,
):
    main.add_command(_command)

__all__ = ["main"]
