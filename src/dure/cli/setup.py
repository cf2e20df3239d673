"""`dure init`, `demo` and `up`, and the `org`, `user` and `token` groups: set up an install."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from dure.cli.support import friendly, open_store, org_session, settings_of
from dure.errors import DureError


@click.command()
@click.pass_context
@friendly
def init(ctx: click.Context) -> None:
    """Create the data folder and bring the database schema up to date (safe to repeat)."""
    settings = settings_of(ctx)
    store = open_store(ctx)
    click.echo(f"store ready: {store.describe()}; blobs in {settings.blob_dir}")


@click.command()
@click.option("--seed", default=7, show_default=True, help="Same seed, same factory.")
@click.pass_context
@friendly
def demo(ctx: click.Context, seed: int) -> None:
    """Load the demo factory: Hanbit Appliances and three sheet-metal suppliers.

    Writes the demo users' API tokens to <home>/demo-tokens.json and the ground
    truth (defect rule, failing press, image labels) to <home>/demo-ground-truth.json.
    Running it again changes nothing.
    """
    from dure.services.demo.world import build_demo

    settings = settings_of(ctx)
    summary = build_demo(open_store(ctx), settings.home, seed=seed)
    state = f"built in {summary.seconds:.1f} s" if summary.created else "already loaded"
    click.echo(
        f"demo world {state}; tokens: {summary.tokens_file}; "
        f"ground truth: {summary.ground_truth_file}"
    )


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--demo/--no-demo",
    "with_demo",
    default=True,
    show_default=True,
    help="Load the demo factory first if it is not there.",
)
@click.option(
    "--demo-feed/--no-demo-feed",
    default=True,
    show_default=True,
    help="With the demo: keep its presses and process records arriving live.",
)
@click.pass_context
@friendly
def up(ctx: click.Context, host: str, port: int, with_demo: bool, demo_feed: bool) -> None:
    """Set up the store, load the demo factory and serve the API (Ctrl-C stops).

    With the demo, a simulated feed keeps the suppliers' press readings and process
    records arriving: within minutes Mirae's wearing press and Hanul's hot dies raise
    alerts on the live checks. The readings go through MQTT when there is a broker
    (DURE_DEMO_MQTT=host:port, or a Mosquitto started here when installed) and the demo
    connectors store them; otherwise they are written directly."""
    import uvicorn

    from dure.api.app import create_app

    settings = settings_of(ctx)
    settings = settings.model_copy(
        update={
            "run_connectors": True,
            "public_url": settings.public_url or f"http://{host}:{port}",
        }
    )
    store = open_store(ctx)
    feed = None
    if with_demo:
        from dure.services.demo.feed_mqtt import park_connectors
        from dure.services.demo.live_feed import start_demo_feed
        from dure.services.demo.world import build_demo

        summary = build_demo(store, settings.home)
        click.echo(f"demo world ready; tokens in {summary.tokens_file}")
        if demo_feed:
            feed = start_demo_feed(store, settings)  # stops its broker if it cannot start
            click.echo(f"demo feed: the presses' readings arrive live; {feed.path}")
        else:
            park_connectors(store)
    click.echo(f"serving on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    try:
        uvicorn.run(
            create_app(settings, store), host=host, port=port, log_level="info", server_header=False
        )
    finally:
        if feed is not None:
            feed.stop()  # after the connectors: then the broker it started


# ---- organisations, users, tokens -----------------------------------------------------


@click.group()
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
@friendly
def org_create(ctx: click.Context, name: str, kind: str, slug: str, oem_slug: str | None) -> None:
    """Create an organisation NAME.

    Example: dure org create "Daesung Press" --kind supplier --slug daesung --supplies hanbit
    """
    from dure.services.platform.accounts import create_org

    with open_store(ctx).system() as s:
        created = create_org(s, name, kind, slug)
        if oem_slug:
            s.organisations.link(s.organisations.get_by_slug(oem_slug).id, created.id)
    click.echo(f"created {kind} {name!r} ({slug}), id {created.id}")


@org.command("list")
@click.pass_context
@friendly
def org_list(ctx: click.Context) -> None:
    """List every organisation on this install."""
    with open_store(ctx).system() as s:
        for o in s.organisations.list():
            click.echo(f"{o.slug:20} {o.kind:9} {o.name}  ({o.id})")


@org.command("link")
@click.argument("oem_slug")
@click.argument("supplier_slug")
@click.pass_context
@friendly
def org_link(ctx: click.Context, oem_slug: str, supplier_slug: str) -> None:
    """Record that SUPPLIER_SLUG supplies OEM_SLUG (shares no data by itself)."""
    with open_store(ctx).system() as s:
        s.organisations.link(
            s.organisations.get_by_slug(oem_slug).id, s.organisations.get_by_slug(supplier_slug).id
        )
    click.echo(f"linked {supplier_slug} as a supplier of {oem_slug}")


@click.group()
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
@friendly
def user_create(
    ctx: click.Context,
    email: str,
    org_slug: str,
    display_name: str,
    role: str,
    password: str | None,
) -> None:
    """Create a user EMAIL in an organisation."""
    from dure.services.platform.accounts import create_user

    if password == "-":
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    with org_session(ctx, org_slug) as s:
        created = create_user(s, email, display_name, role, password)
    click.echo(f"created {role} {created.email}, id {created.id}")


@click.group()
def token() -> None:
    """API tokens (for scripts, cameras and the REST API)."""


@token.command("create")
@click.argument("email")
@click.option("--org", "org_slug", required=True, help="Organisation short name.")
@click.option("--name", default="cli", show_default=True, help="What the token is for.")
@click.option(
    "--days",
    type=click.IntRange(1, 3 * 365),
    default=None,
    help="Expire after this many days (default: 90; at most 3 years).",
)
@click.pass_context
@friendly
def token_create(
    ctx: click.Context, email: str, org_slug: str, name: str, days: int | None
) -> None:
    """Create an API token for user EMAIL; it is printed once: keep it safe."""
    expires = datetime.now(UTC) + timedelta(days=days) if days else None
    with org_session(ctx, org_slug) as s:
        user = s.users.own_by_email(email)
        if user is None:
            raise DureError(f"no user {email} in {org_slug}; create one with `dure user create`")
        _, secret = s.tokens.issue(name, user_id=user.id, expires_at=expires)
    click.echo(secret)
