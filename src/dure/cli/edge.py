"""`dure edge …`: enrol an edge box at its site, run it, show its state, load a model offline.

Everything heavy is imported inside the commands, and the runtime itself needs no torch:
`dure edge --help` works in a slim install (onnxruntime, numpy, Pillow, paho, asyncua).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from dure.errors import DureError


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Show Dure errors as one clear line and exit 2 (cli.support's, without its store)."""

    @wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DureError as exc:
            click.echo(f"error: {exc.detail}", err=True)
            sys.exit(2)

    return run


_HOME = click.option(
    "--home",
    "edge_home",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The edge box's data folder (enrolment, keys, spool, models).",
)


@click.group("edge")
def edge() -> None:
    """The line-side runtime: camera folder or MQTT in, verdict to MQTT / a PLC, results
    forwarded to the site (signed) when it can be reached. Runs without torch."""


@edge.command("enrol")
@click.option("--site", "site_url", required=True, help="The site's Dure, e.g. http://site:8000")
@click.option(
    "--token-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="A file holding an API token (engineer to enrol; operator is enough to run).",
)
@click.option("--name", required=True, help="This box's name, e.g. press-line-1.")
@click.option("--station", "station_id", default=None, help="Inspection station id.")
@click.option("--part", "part_id", default=None, help="Part id the box inspects.")
@click.option("--model", "model_version_id", default=None, help="Model version to run.")
@_HOME
@friendly
def enrol(
    site_url: str,
    token_file: Path,
    name: str,
    station_id: str | None,
    part_id: str | None,
    model_version_id: str | None,
    edge_home: Path,
) -> None:
    """Make this box's device key, register it at the site and pin the site's key."""
    from dure.collab.signing import fingerprint
    from dure.edge.identity import EdgeIdentity, device_key, read_token, save_identity
    from dure.edge.site import SiteClient, SiteRefused, SiteUnavailable, check_site_url
    from dure.errors import InvalidInput

    url = check_site_url(site_url)
    _, public_pem = device_key(edge_home)
    client = SiteClient(url, read_token(token_file))
    try:
        answer = client.register(
            {"name": name, "public_pem": public_pem, "station_id": station_id,
             "part_id": part_id, "model_version_id": model_version_id}
        )  # fmt: skip
    except (SiteUnavailable, SiteRefused) as exc:
        raise InvalidInput("site", str(exc)) from None
    finally:
        client.close()
    site_pem = answer["site_public_pem"]
    printed = fingerprint(site_pem)
    if answer.get("site_fingerprint") and answer["site_fingerprint"] != printed:
        raise InvalidInput("site", "the site's key does not match the fingerprint it sent")
    identity = EdgeIdentity(
        edge_id=answer["id"],
        org_id=answer["org_id"],
        name=answer.get("name", name),
        site_url=url,
        token_file=str(Path(token_file).resolve()),
        site_public_pem=site_pem,
        site_fingerprint=printed,
        station_id=answer.get("station_id"),
        part_id=answer.get("part_id"),
    )
    save_identity(edge_home, identity)
    click.echo(f"enrolled as {identity.edge_id} at {url} (organisation {identity.org_id})")
    click.echo(f"site key fingerprint: {printed}")
    click.echo("compare it with the site's (Settings -> edge boxes) before running this box")


@edge.command("run")
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The box's edge.toml.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log every model switch and outage.")
@friendly
def run(config_file: Path, verbose: bool) -> None:
    """Inspect images until stopped (SIGTERM or Ctrl-C)."""
    from dure.edge.config import load_config
    from dure.edge.runtime import run_edge

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    run_edge(load_config(config_file))


@edge.command("status")
@_HOME
@friendly
def status(edge_home: Path) -> None:
    """The box's last reported state: latency p50/p99, memory, spool depth, site link."""
    from dure.edge.fsio import rejected_files
    from dure.edge.identity import load_identity
    from dure.edge.spool import ResultSpool
    from dure.edge.stats import read_status

    identity = load_identity(edge_home)
    report = read_status(edge_home) or {"edge_id": identity.edge_id, "running": "never"}
    if (edge_home / "spool" / "results.sqlite").exists():
        spool = ResultSpool(edge_home / "spool", tidy=False)  # the box may be running
        try:
            counts = spool.counts()
            report["spool_now"] = {
                **counts,
                "refused_reasons": spool.refused()[:20],
                "rejected_files": len(rejected_files(edge_home / "rejected")),
            }
        finally:
            spool.close()
    click.echo(json.dumps(report, indent=2, default=str))


@edge.command("load")
@click.argument("package", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_HOME
@friendly
def load(package: Path, edge_home: Path) -> None:
    """Install a signed model package from a file (offline); the running box switches to it."""
    from dure.edge.identity import load_identity
    from dure.edge.models import ModelShelf

    shelf = ModelShelf(edge_home / "models", load_identity(edge_home), tidy=False)
    verified = shelf.install(package.read_bytes(), make_current=True)
    click.echo(
        f"installed package {verified.card['package_id']} "
        f"(model version {verified.card.get('model_version_id')}); it is now current"
    )
