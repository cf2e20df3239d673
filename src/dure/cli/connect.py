"""`dure connect …`: configure and run live MQTT and OPC UA connectors."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from dure.cli.support import friendly, open_store, org_session, settings_of
from dure.errors import InvalidInput


@click.group("connect")
def connect() -> None:
    """Live data: subscribe to MQTT topics or OPC UA tags and store every reading once."""


_ORG = click.option("--org", "org_slug", required=True, help="Organisation short name.")
_CONFIG = click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="JSON file with the whole configuration (the API's config object).",
)
_SAVE_ONLY = click.option("--save-only", is_flag=True, help="Store the configuration; do not run.")
_STOP = [
    click.option("--max-messages", type=int, default=None, help="Stop after this many messages."),
    click.option("--seconds", type=float, default=None, help="Stop after this many seconds."),
    click.option(
        "--stats-out",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Write the final counters and lag percentiles here as JSON.",
    ),
]


def _stop_options(fn):  # type: ignore[no-untyped-def]
    for option in reversed(_STOP):
        fn = option(fn)
    return fn


@connect.command("mqtt")
@click.argument("name")
@_ORG
@_CONFIG
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=1883, show_default=True)
@click.option("--client-id", default=None, help="MQTT client id (default: dure-<name>).")
@click.option("--topic", "topics", multiple=True, help="Topic filter, e.g. plant/line1/+/data.")
@click.option("--format", "fmt", type=click.Choice(["json", "binary"]), default="json")
@click.option("--asset", default=None, help="Asset name all these topics belong to.")
@click.option("--asset-level", type=int, default=None, help="Topic level holding the asset name.")
@click.option("--channels", default="", help="Binary payloads: channel names by index, a,b,c.")
@_SAVE_ONLY
@_stop_options
@click.pass_context
@friendly
def connect_mqtt(
    ctx: click.Context,
    name: str,
    org_slug: str,
    config_file: Path | None,
    host: str,
    port: int,
    client_id: str | None,
    topics: tuple[str, ...],
    fmt: str,
    asset: str | None,
    asset_level: int | None,
    channels: str,
    save_only: bool,
    **stop: Any,
) -> None:
    """Subscribe connector NAME to an MQTT broker (QoS 1, acknowledged once stored)."""
    if config_file is not None:
        config = _read_config(config_file)
    else:
        if not topics:
            raise InvalidInput("--topic", "give at least one topic filter (or --config)")
        rules = [
            {
                "filter": t,
                "format": fmt,
                **({"asset": asset} if asset is not None else {}),
                **({"asset_level": asset_level} if asset_level is not None else {}),
                **({"channels": channels.split(",")} if channels else {}),
            }
            for t in topics
        ]
        config = {
            "host": host,
            "port": port,
            "client_id": client_id or f"dure-{name}",
            "topics": rules,
        }
    _save_and_run(ctx, org_slug, name, "mqtt", config, save_only, stop)


@connect.command("opcua")
@click.argument("name")
@_ORG
@_CONFIG
@click.option("--endpoint", default=None, help="opc.tcp://host:4840/path")
@click.option(
    "--tag",
    "tags",
    multiple=True,
    help="NODE_ID=ASSET/CHANNEL, e.g. 'ns=2;s=Press.Force=press/force'.",
)
@click.option("--interval-ms", type=int, default=100, show_default=True)
@_SAVE_ONLY
@_stop_options
@click.pass_context
@friendly
def connect_opcua(
    ctx: click.Context,
    name: str,
    org_slug: str,
    config_file: Path | None,
    endpoint: str | None,
    tags: tuple[str, ...],
    interval_ms: int,
    save_only: bool,
    **stop: Any,
) -> None:
    """Subscribe connector NAME to OPC UA variables mapped to sensor channels."""
    if config_file is not None:
        config = _read_config(config_file)
    else:
        if not endpoint or not tags:
            raise InvalidInput("--endpoint/--tag", "give the endpoint and at least one --tag")
        config = {
            "endpoint": endpoint,
            "publishing_interval_ms": interval_ms,
            "tags": [_tag(t) for t in tags],
        }
    _save_and_run(ctx, org_slug, name, "opcua", config, save_only, stop)


@connect.command("run")
@click.argument("name")
@_ORG
@_stop_options
@click.pass_context
@friendly
def connect_run(ctx: click.Context, name: str, org_slug: str, **stop: Any) -> None:
    """Run the stored connector NAME (as configured by the CLI or the API)."""
    with org_session(ctx, org_slug) as s:
        connector = s.connectors.get_by_name(name)
    _run(ctx, connector, stop)


@connect.command("browse")
@click.argument("endpoint")
@friendly
def connect_browse(endpoint: str) -> None:
    """List the variables an OPC UA server offers (node id, path, type)."""
    import asyncio

    from dure.ingest.streams.opcua import browse

    for v in asyncio.run(browse(endpoint)):
        click.echo(f"{v['node_id']:40} {v['type']:10} {v['path']}")


@connect.command("list")
@_ORG
@click.pass_context
@friendly
def connect_list(ctx: click.Context, org_slug: str) -> None:
    """The organisation's connectors and their last status."""
    with org_session(ctx, org_slug) as s:
        for c in s.connectors.list().items:
            st = c.status
            seen = f"{c.heartbeat_at:%Y-%m-%d %H:%M:%S}" if c.heartbeat_at else "never ran"
            click.echo(
                f"{c.name:24} {c.kind.value:6} stored {st.get('stored_messages', 0):>10} "
                f"rejected {st.get('rejected', 0):>6} spool {st.get('spool_batches', 0):>4} "
                f"last seen {seen}"
            )


@connect.command("prune")
@click.option(
    "--days",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Retention window in days (default: DURE_STREAM_RETENTION_DAYS, 7).",
)
@click.pass_context
@friendly
def connect_prune(ctx: click.Context, days: float | None) -> None:
    """Forget the message ids connectors stored longer ago than the retention window
    (running connectors do this themselves every ten minutes)."""
    from dure.services.live.retention import prune_all

    window = days if days is not None else settings_of(ctx).stream_retention_days
    gone = prune_all(open_store(ctx), window)
    click.echo(f"pruned {gone} message ids older than {window:g} days")


def _read_config(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput("--config", f"{path}: not readable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InvalidInput("--config", f"{path}: must hold a JSON object")
    return data


def _tag(text: str) -> dict[str, str]:
    node_id, sep, target = text.rpartition("=")
    asset, slash, channel = target.partition("/")
    if not sep or not slash or not node_id or not asset or not channel:
        raise InvalidInput("--tag", f"{text!r}: write NODE_ID=ASSET/CHANNEL")
    return {"node_id": node_id, "asset": asset, "channel": channel}


def _save_and_run(
    ctx: click.Context,
    org_slug: str,
    name: str,
    kind: str,
    config: dict[str, Any],
    save_only: bool,
    stop: dict[str, Any],
) -> None:
    from dure.services.live.connectors import save_connector

    with org_session(ctx, org_slug) as s:
        connector = save_connector(s, name, kind, config)
    click.echo(f"connector {name!r} ({kind}) saved")
    if not save_only:
        _run(ctx, connector, stop)


def _run(ctx: click.Context, connector, stop: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    from dure.services.live.runner import run_connector

    started = time.monotonic()
    max_messages, seconds = stop.get("max_messages"), stop.get("seconds")

    def until(stats) -> bool:  # type: ignore[no-untyped-def]
        done = stats.stored_messages + stats.duplicates + stats.spooled_batches
        if max_messages is not None and stats.received >= max_messages and done:
            return True
        return seconds is not None and time.monotonic() - started >= seconds

    click.echo(f"running {connector.name!r}; Ctrl-C to stop")
    stats = run_connector(open_store(ctx), settings_of(ctx), connector, until).as_dict()
    click.echo(
        f"received {stats['received']}, stored {stats['stored_messages']} messages "
        f"({stats['readings']} readings), duplicates {stats['duplicates']}, "
        f"rejected {stats['rejected']}, spooled batches {stats['spooled_batches']}"
    )
    out = stop.get("stats_out")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(stats, indent=2, default=str))
