"""`dure backup` and `dure restore`: the whole install (database, blobs, models, keys)."""

from __future__ import annotations

from pathlib import Path

import click

from dure.cli.support import friendly, settings_of


@click.command("backup")
@click.argument("dest", type=click.Path(path_type=Path))
@click.pass_context
@friendly
def backup(ctx: click.Context, dest: Path) -> None:
    """Back the install up into the new folder DEST (safe while `dure up` runs)."""
    from dure.services.platform.backups import create_backup

    done = create_backup(settings_of(ctx), dest)
    click.echo(
        f"backed up {done.backend} database (schema {done.revision}) and "
        f"{done.files - 1} files, {done.bytes:,} bytes, to {done.path}"
    )


@click.command("restore")
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace an install that already holds data.")
@click.pass_context
@friendly
def restore(ctx: click.Context, src: Path, force: bool) -> None:
    """Restore the backup folder SRC into this install (stop `dure up` first)."""
    from dure.services.platform.backups import restore_backup

    done = restore_backup(settings_of(ctx), src, force=force)
    click.echo(
        f"restored {done.backend} database (schema {done.revision}) and "
        f"{done.files - 1} files from {done.path}"
    )
