"""Copies of the database for backups: SQLite's online backup, PostgreSQL's pg_dump.

``dump_database`` writes a consistent copy while the server runs (SQLite's backup API
copies a snapshot; pg_dump reads one snapshot). ``load_database`` replaces the whole
database with a copy in one step: SQLite's backup API in one transaction, PostgreSQL's
emptied schema and restored dump in one ``psql --single-transaction``, so a failure
leaves the database as it was.
"""

from __future__ import annotations

import glob
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import inspect, make_url, select, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError

from dure.errors import InvalidInput, StoreUnavailable
from dure.store import tables as t
from dure.store.engine import alembic_config, make_engine, migrate

DUMP_FILES = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}


def backend_of(url: str) -> str:
    """The backend of a database URL: sqlite or postgresql."""
    return make_url(url).get_backend_name()


def dump_database(url: str, dest: Path) -> tuple[Path, str]:
    """Copy the database at ``url`` into the folder ``dest``; the file written and the
    schema revision it holds."""
    backend = backend_of(url)
    target = dest / DUMP_FILES[backend]
    if backend == "sqlite":
        source = sqlite3.connect(_sqlite_path(url), timeout=30)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            copy.close()
            source.close()
        return target, _sqlite_revision(target)
    revision = _postgres_revision(url)
    _run_tool(
        "pg_dump",
        ["--format=custom", "--no-owner", "--file", str(target), "--dbname", _libpq_url(url)],
    )
    return target, revision


def load_database(url: str, dump: Path) -> None:
    """Replace the whole database at ``url`` with the copy in ``dump`` (all or nothing),
    then migrate an older copy's schema up to this code's."""
    _replace_database(url, dump)
    engine = make_engine(url)
    try:
        migrate(engine)
    finally:
        engine.dispose()


def _replace_database(url: str, dump: Path) -> None:
    if backend_of(url) == "sqlite":
        path = _sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        source = sqlite3.connect(f"file:{dump}?mode=ro", uri=True)
        target = sqlite3.connect(path, timeout=30)
        try:
            source.backup(target)
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(
                f"{path}: cannot be replaced now ({exc}); stop Dure first"
            ) from exc
        finally:
            target.close()
            source.close()
        return
    with tempfile.TemporaryDirectory(prefix="dure-restore-") as work:
        script = Path(work) / "restore.sql"
        _run_tool("pg_restore", ["--no-owner", "--no-acl", "--file", str(script), str(dump)])
        _run_tool(
            "psql",
            [
                "--no-psqlrc", "--quiet", "--single-transaction",
                "--set", "ON_ERROR_STOP=1",
                "--command", "DROP SCHEMA IF EXISTS public CASCADE",
                "--command", "CREATE SCHEMA public",
                "--file", str(script),
                "--dbname", _libpq_url(url),
            ],
        )  # fmt: skip


def dump_revision(backend: str, dump: Path) -> str | None:
    """The schema revision recorded in a SQLite copy (None for a PostgreSQL dump, whose
    revision is read from the backup's manifest)."""
    if backend != "sqlite":
        return None
    return _sqlite_revision(dump)


def known_revision(revision: str) -> bool:
    """True when this code's migrations know ``revision`` (a newer schema is unknown)."""
    scripts = ScriptDirectory.from_config(alembic_config(None))  # type: ignore[arg-type]
    try:
        return scripts.get_revision(revision) is not None
    except CommandError:
        return False


def holds_data(url: str) -> bool:
    """True when the database at ``url`` holds any organisation (an install in use)."""
    if backend_of(url) == "sqlite" and not _sqlite_path(url).exists():
        return False
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(t.organisations.name):
                return False
            return conn.execute(select(t.organisations.c.id).limit(1)).first() is not None
    except OperationalError as exc:
        raise StoreUnavailable(f"the store cannot be reached: {exc.orig}") from exc
    finally:
        engine.dispose()


def find_tool(name: str) -> Path:
    """A PostgreSQL client program: on PATH, else the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return Path(found)
    bins = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version_key)
    if bins:
        return Path(bins[-1])
    raise InvalidInput(
        name,
        "not found on PATH nor under /usr/lib/postgresql/*/bin: install PostgreSQL's client "
        "programs (Debian: apt-get install postgresql-client)",
    )


def _version_key(path: str) -> tuple[int, ...]:
    version = Path(path).parents[1].name
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def _run_tool(name: str, args: list[str]) -> None:
    done = subprocess.run(
        [str(find_tool(name)), *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise StoreUnavailable(f"{name} failed: {said[-1] if said else done.returncode}")


def _sqlite_revision(path: Path) -> str:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as exc:
        raise InvalidInput(str(path), f"not a Dure database ({exc})") from None
    finally:
        conn.close()
    return _revision(row, str(path))


def _postgres_revision(url: str) -> str:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return _revision(None, "database")
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    except OperationalError as exc:
        raise StoreUnavailable(f"the store cannot be reached: {exc.orig}") from exc
    finally:
        engine.dispose()
    return _revision(row, "database")


def _revision(row: object, where: str) -> str:
    if row is None:
        raise InvalidInput(where, "has no schema revision: run dure init first")
    return str(row[0])  # type: ignore[index]


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise InvalidInput("database_url", "an in-memory SQLite database cannot be backed up")
    return Path(database)


def _libpq_url(url: str) -> str:
    parsed: URL = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)
