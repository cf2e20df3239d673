"""`dure work`: run queued jobs without serving the API (a job host, e.g. under Ray)."""

from __future__ import annotations

import time

import click

from dure.cli.support import friendly, open_store, settings_of

IDLE_CHECKS = 3  # seconds in a row with nothing queued or running before --until-idle stops


@click.command("work")
@click.option(
    "--until-idle",
    is_flag=True,
    help="Stop once no job is queued or running (for `ray job submit`); else run until Ctrl-C.",
)
@click.pass_context
@friendly
def work(ctx: click.Context, until_idle: bool) -> None:
    """Run the queued jobs of this install's store (training, batches) until stopped.

    Use it beside an API server started with DURE_RUN_JOBS=false, sharing its database:
    exactly one process may run jobs (a starting runner settles the jobs it finds running).
    With DURE_RAY_ADDRESS set, large batches are computed on that Ray cluster (`auto`: the
    cluster this command was submitted to with `ray job submit`).
    """
    from dure.services.platform.install import Install

    settings = settings_of(ctx)
    install = Install.open(settings, open_store(ctx))
    engine = install.jobs.scale
    where = f"Ray at {engine.address} for batches of {engine.min_images}+" if engine else "here"
    click.echo(f"running queued jobs ({where}); Ctrl-C stops")
    install.jobs.start()
    idle = 0
    try:
        while idle < IDLE_CHECKS:
            time.sleep(1.0)
            if until_idle:
                status = install.jobs.status()
                busy = status["queue"]["queued"] or any(w["job_id"] for w in status["workers"])
                idle = 0 if busy else idle + 1
    except KeyboardInterrupt:
        pass
    finally:
        install.stop()
    click.echo("stopped")
