"""`dure train` and `dure inspect`: teach a part's inspection model and inspect images."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import click

from dure.cli.support import friendly, open_store, org_session, part_id_of, settings_of
from dure.errors import DureError, NotFound


@click.command("train")
@click.option("--org", "org_slug", required=True, help="Organisation short name.")
@click.option("--part", "part_number", required=True, help="Part number to teach.")
@click.option("--name", default=None, help="Model name (default: 'inspection <part>').")
@click.option("--image-size", type=int, default=256, show_default=True)
@click.option("--coreset-ratio", type=float, default=0.1, show_default=True)
@click.option(
    "--false-alarm-rate",
    type=float,
    default=0.01,
    show_default=True,
    help="Share of good parts allowed to be flagged (used when no defect images exist).",
)
@click.option(
    "--tile",
    type=int,
    default=None,
    help="Judge large images in tiles of this many pixels (native resolution).",
)
@click.pass_context
@friendly
def train(
    ctx: click.Context,
    org_slug: str,
    part_number: str,
    name: str | None,
    image_size: int,
    coreset_ratio: float,
    false_alarm_rate: float,
    tile: int | None,
) -> None:
    """Teach a new inspection model from the part's labelled images, showing progress."""
    from dure.services.inspection.teaching import (
        TrainingSettings,
        create_inspection_model,
        queue_training,
    )
    from dure.services.platform.jobs import JobRunner
    from dure.services.platform.model_files import InspectorCache

    settings = settings_of(ctx)
    chosen = TrainingSettings(image_size, coreset_ratio, false_alarm_rate, tile=tile)
    with org_session(ctx, org_slug) as s:
        model = create_inspection_model(s, part_id_of(s, org_slug, part_number), name, chosen)
        job = queue_training(s, model.id)
        caller = s.caller
    click.echo(f"model {model.id} ({model.name} v{model.version}); training job {job.id}")
    store = open_store(ctx)
    runner = JobRunner(store, settings.work_dir, InspectorCache(store.blobs, settings.model_dir))
    worker = threading.Thread(target=runner.run_next, args=(job.id,), daemon=True)
    worker.start()
    shown = ""
    while True:
        worker.join(timeout=1.0)
        with store.session(caller) as s:
            current = s.jobs.get(job.id)
        line = f"{current.progress * 100:5.1f}%  {current.message}"
        if line != shown:
            click.echo(line)
            shown = line
        if current.done and not worker.is_alive():
            break
    if current.error:
        raise DureError(f"training failed: {current.error}")
    with store.session(caller) as s:
        card = s.model_versions.get(model.id).card
    threshold = card["threshold"]
    click.echo(
        f"ready: threshold {threshold['value']:.4f} ({threshold['method']}, "
        f"{threshold['n_good']} held-out good, {threshold['n_defective']} defective), "
        f"defect types: {', '.join(card['defect_types']) or 'none'}, "
        f"{card['train_seconds']:.1f} s"
    )


@click.command("inspect")
@click.argument(
    "images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--org", "org_slug", required=True, help="Organisation short name.")
@click.option("--model", "model_id", default=None, help="Model id (default: newest ready one).")
@click.option("--part", "part_number", default=None, help="Part number the images show.")
@click.option("--lot", "lot_code", default=None, help="Lot code the parts belong to.")
@click.option(
    "--heatmaps",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also write each heat-map PNG into this folder.",
)
@click.pass_context
@friendly
def inspect(
    ctx: click.Context,
    images: tuple[Path, ...],
    org_slug: str,
    model_id: str | None,
    part_number: str | None,
    lot_code: str | None,
    heatmaps: Path | None,
) -> None:
    """Inspect IMAGES with a ready model; each becomes an inspection record."""
    from dure.services.inspection.inspect import inspect_image
    from dure.services.inspection.records import ImageLimits, Placement
    from dure.services.platform.model_files import InspectorCache

    settings = settings_of(ctx)
    store = open_store(ctx)
    cache = InspectorCache(store.blobs, settings.model_dir)
    limits = ImageLimits(settings.max_upload_bytes, settings.max_image_pixels)
    with org_session(ctx, org_slug) as s:
        part_id = part_id_of(s, org_slug, part_number) if part_number else None
        if model_id is None:
            ready = s.model_versions.list(task="visual-inspection", status="ready", part_id=part_id)
            if not ready.items:
                raise NotFound(f"no ready inspection model in {org_slug}; run `dure train` first")
            model_id = ready.items[0].id
        lot_id = None
        if lot_code:
            lots = s.lots.list(code=lot_code).items
            if not lots:
                raise NotFound(f"no lot {lot_code!r} in {org_slug}")
            lot_id = lots[0].id
        caller = s.caller
    click.echo(f"{'image':30} {'verdict':7} {'score':>8} {'thresh':>8} {'type':12} {'ms':>6}")
    counts = {"ok": 0, "ng": 0}
    for path in images:
        started = time.perf_counter()
        outcome = inspect_image(
            store,
            cache,
            caller,
            model_id,
            path.read_bytes(),
            path.name,
            limits,
            Placement(part_id, lot_id),
            serial=path.stem[:100],
        )
        ms = (time.perf_counter() - started) * 1000
        record = outcome.record
        counts[str(record.verdict)] += 1
        click.echo(
            f"{path.name[:30]:30} {record.verdict!s:7} {record.score:8.4f} "
            f"{outcome.threshold:8.4f} {record.defect_type or '-':12} {ms:6.0f}"
        )
        if heatmaps is not None and record.heatmap_sha256:
            heatmaps.mkdir(parents=True, exist_ok=True)
            (heatmaps / f"{path.stem}-heatmap.png").write_bytes(
                store.blobs.get(record.heatmap_sha256)
            )
    click.echo(f"{counts['ok']} ok, {counts['ng']} flagged, model {model_id}")
