"""`dure setup …`: a company describes its plant, parts, defect taxonomy and machines from
the command line, as the dashboard's Setup page does (references by name or id)."""

from __future__ import annotations

import click

from dure.cli.support import friendly, org_session

_ORG = click.option("--org", "org_slug", required=True, help="Organisation short name.")


@click.group("setup")
def setup() -> None:
    """Sites, lines, stations, part numbers, defect types, machines and sensor channels.

    \b
    Example, a new supplier from scratch:
      dure setup site "Changwon plant" --org saebyeok
      dure setup line "Press line A" --site "Changwon plant" --org saebyeok
      dure setup station "Camera 1" --line "Press line A" --org saebyeok
      dure setup part SB-1001 --name "Door panel" --org saebyeok
      dure setup defect-type burr --name Burr --org saebyeok
      dure setup asset press-7 --line "Press line A" --org saebyeok
      dure setup channel press-7 vibration --unit mm/s --org saebyeok
      dure setup show --org saebyeok
    """


@setup.command("site")
@click.argument("name")
@_ORG
@click.pass_context
@friendly
def site(ctx: click.Context, name: str, org_slug: str) -> None:
    """Add a site (a plant) NAME."""
    from dure.services.platform.plant_setup import add_site

    with org_session(ctx, org_slug) as s:
        made = add_site(s, name)
    click.echo(f"created site {made.name!r}, id {made.id}")


@setup.command("line")
@click.argument("name")
@click.option("--site", "site_ref", required=True, help="The site's name or id.")
@_ORG
@click.pass_context
@friendly
def line(ctx: click.Context, name: str, site_ref: str, org_slug: str) -> None:
    """Add a production line NAME to a site."""
    from dure.services.platform.plant_setup import add_line

    with org_session(ctx, org_slug) as s:
        made = add_line(s, site_ref, name)
    click.echo(f"created line {made.name!r}, id {made.id}")


@setup.command("station")
@click.argument("name")
@click.option("--line", "line_ref", required=True, help="The line's name or id.")
@click.option("--kind", default="process", show_default=True, help="e.g. process, camera.")
@_ORG
@click.pass_context
@friendly
def station(ctx: click.Context, name: str, line_ref: str, kind: str, org_slug: str) -> None:
    """Add a station NAME on a line."""
    from dure.services.platform.plant_setup import add_station

    with org_session(ctx, org_slug) as s:
        made = add_station(s, line_ref, name, kind)
    click.echo(f"created station {made.name!r}, id {made.id}")


@setup.command("part")
@click.argument("number")
@click.option("--name", required=True, help="What the part is, e.g. 'Door panel'.")
@click.option("--oem-part", default=None, help="For a supplier: the id of the OEM part it makes.")
@_ORG
@click.pass_context
@friendly
def part(ctx: click.Context, number: str, name: str, oem_part: str | None, org_slug: str) -> None:
    """Add a part NUMBER (then `dure import images --part NUMBER` teaches it)."""
    from dure.services.platform.plant_setup import add_part

    with org_session(ctx, org_slug) as s:
        made = add_part(s, number, name, oem_part)
    click.echo(f"created part {made.number!r}, id {made.id}")


@setup.command("defect-type")
@click.argument("code")
@click.option("--name", required=True, help="The class as people call it, e.g. Burr.")
@click.option("--severity", type=int, default=2, show_default=True, help="1 minor .. 3 critical.")
@click.option("--description", default="", help="What it looks like.")
@_ORG
@click.pass_context
@friendly
def defect_type(
    ctx: click.Context, code: str, name: str, severity: int, description: str, org_slug: str
) -> None:
    """Add CODE (lower-case) to your defect taxonomy; your OEM's classes are inherited."""
    from dure.services.platform.plant_setup import add_defect_type

    with org_session(ctx, org_slug) as s:
        made = add_defect_type(s, code, name, severity, description)
    click.echo(f"created defect type {made.code!r}, id {made.id}")


@setup.command("asset")
@click.argument("name")
@click.option("--line", "line_ref", default=None, help="The line's name or id.")
@click.option("--station", "station_ref", default=None, help="The station's name or id.")
@click.option("--kind", default="machine", show_default=True, help="e.g. machine, press.")
@_ORG
@click.pass_context
@friendly
def asset(
    ctx: click.Context,
    name: str,
    line_ref: str | None,
    station_ref: str | None,
    kind: str,
    org_slug: str,
) -> None:
    """Add a machine NAME (the `asset` column of sensor files names it)."""
    from dure.services.platform.plant_setup import add_asset

    with org_session(ctx, org_slug) as s:
        made = add_asset(s, name, line_ref, station_ref, kind)
    click.echo(f"created asset {made.name!r}, id {made.id}")


@setup.command("channel")
@click.argument("asset_ref", metavar="ASSET")
@click.argument("name")
@click.option("--unit", default="", help="e.g. mm/s, degC, A.")
@_ORG
@click.pass_context
@friendly
def channel(ctx: click.Context, asset_ref: str, name: str, unit: str, org_slug: str) -> None:
    """Add a sensor channel NAME to the machine ASSET (name or id)."""
    from dure.services.platform.plant_setup import add_channel

    with org_session(ctx, org_slug) as s:
        made = add_channel(s, asset_ref, name, unit)
    click.echo(f"created channel {made.name!r}, id {made.id}")


@setup.command("show")
@_ORG
@click.pass_context
@friendly
def show(ctx: click.Context, org_slug: str) -> None:
    """List what the organisation has set up (the dashboard's Setup page, in text)."""
    from dure.services.dashboard.setup import setup_view

    with org_session(ctx, org_slug) as s:
        view = setup_view(s)
    sites = {x["id"]: x["name"] for x in view["sites"]}
    lines = {x["id"]: x["name"] for x in view["lines"]}
    for x in view["sites"]:
        click.echo(f"site     {x['name']}")
    for x in view["lines"]:
        click.echo(f"line     {x['name']}  (site {sites.get(x['site_id'], '?')})")
    for x in view["stations"]:
        click.echo(f"station  {x['name']}  (line {lines.get(x['line_id'], '?')}, {x['kind']})")
    for x in view["parts"]:
        click.echo(f"part     {x['number']}  {x['name']}")
    for x in view["defect_types"]:
        whose = f"from {x['owner']}, read-only" if x["inherited"] else "own"
        click.echo(f"defect   {x['code']}  {x['name']}  (severity {x['severity']}, {whose})")
    for x in view["assets"]:
        names = ", ".join(
            c["name"] + (f" [{c['unit']}]" if c["unit"] else "") for c in x["channels"]
        )
        click.echo(f"asset    {x['name']}  channels: {names or 'none'}")
