"""`dure import …`: bring sensor, process and image files into an organisation's store."""

from __future__ import annotations

from pathlib import Path

import click

from dure.cli.support import friendly, org_session, part_id_of, settings_of


@click.group("import")
def import_() -> None:
    """Bring files into an organisation's store."""


_ON_ERROR = click.option(
    "--on-error",
    type=click.Choice(["reject", "skip"]),
    default="reject",
    show_default=True,
    help="reject: any bad row refuses the whole file; skip: store the good rows.",
)


def _report(result) -> None:  # type: ignore[no-untyped-def]
    b = result.batch
    if result.already_imported:
        click.echo(
            f"{b.filename}: already imported on {b.created_at:%Y-%m-%d %H:%M}; nothing added"
        )
        return
    click.echo(
        f"{b.filename}: {b.rows_total} rows, {result.rows_new} new, {b.rows_rejected} rejected"
    )
    for e in b.errors[:20]:
        click.echo(f"  row {e['row']}, column {e['column']!r}: {e['reason']}")


@import_.command("sensors")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--org", "org_slug", required=True, help="Organisation short name.")
@_ON_ERROR
@click.pass_context
@friendly
def import_sensors(ctx: click.Context, file: Path, org_slug: str, on_error: str) -> None:
    """Import sensor readings from FILE (CSV or Parquet: asset, channel, time, value[, unit])."""
    from dure.services.imports.files import import_sensor_file

    with org_session(ctx, org_slug) as s:
        _report(import_sensor_file(s, file.read_bytes(), file.name, on_error))


@import_.command("process")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--org", "org_slug", required=True, help="Organisation short name.")
@click.option(
    "--schema",
    "schema_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSON file declaring parameters: {"parameters": {"press_force_kN": {"unit": "kN"}}}',
)
@_ON_ERROR
@click.pass_context
@friendly
def import_process(
    ctx: click.Context, file: Path, org_slug: str, schema_file: Path, on_error: str
) -> None:
    """Import process records from FILE (part, time[, lot, serial, line] + declared parameters)."""
    from dure.ingest.process_files import ProcessSchema
    from dure.services.imports.files import import_process_file

    schema = ProcessSchema.from_json(schema_file.read_text(), str(schema_file))
    with org_session(ctx, org_slug) as s:
        _report(import_process_file(s, file.read_bytes(), file.name, schema, on_error))


@import_.command("images")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--org", "org_slug", required=True, help="Organisation short name.")
@click.option("--part", "part_number", required=True, help="The part number the images show.")
@click.option(
    "--layout",
    type=click.Choice(["auto", "plain", "mvtec", "magnetic-tile", "neu-det"]),
    default="auto",
    show_default=True,
    help="How the folder is organised.",
)
@click.pass_context
@friendly
def import_images(
    ctx: click.Context, folder: Path, org_slug: str, part_number: str, layout: str
) -> None:
    """Import an image FOLDER as labelled images of a part (all checked before any is stored)."""
    from dure.services.imports.images import import_image_folder

    settings = settings_of(ctx)
    with org_session(ctx, org_slug) as s:
        result = import_image_folder(
            s,
            folder,
            part_id_of(s, org_slug, part_number),
            layout,
            max_bytes=settings.max_upload_bytes,
            max_pixels=settings.max_image_pixels,
        )
    click.echo(
        f"{folder} ({result.layout}): {result.images_new} new, {result.images_seen} already there; "
        + ", ".join(f"{k}={v}" for k, v in sorted(result.by_label.items()))
    )
