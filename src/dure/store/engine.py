"""Database engines: SQLite in WAL mode by default, PostgreSQL by URL; migrations on start."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL (None for PostgreSQL or an in-memory database)."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[-1]
    return Path(path) if path and path != ":memory:" else None


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite files get WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        path = sqlite_file(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "commit", _sqlite_end)
        event.listen(engine, "rollback", _sqlite_end)
        return engine
    engine = create_engine(url, pool_pre_ping=True)
    event.listen(engine, "begin", _postgres_begin)
    return engine


READ_ONLY = "dure_read_only"
NO_WAIT = "dure_no_wait"
BUSY_TIMEOUT_MS = 30_000


def _sqlite_begin(conn) -> None:  # type: ignore[no-untyped-def]
    # A writer takes the write lock at BEGIN, so two writers queue instead of failing
    # mid-way. A reader begins deferred: in WAL mode it neither waits for nor blocks a
    # writer, and query_only makes any write in it an error instead of a lock.
    # A best-effort writer (NO_WAIT) gives up at once when the lock is taken.
    options = conn.get_execution_options()
    if options.get(READ_ONLY):
        conn.exec_driver_sql("PRAGMA query_only = ON")
        conn.exec_driver_sql("BEGIN")
        return
    if options.get(NO_WAIT):
        conn.exec_driver_sql("PRAGMA busy_timeout = 0")
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    finally:
        if options.get(NO_WAIT):
            conn.exec_driver_sql(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


def _sqlite_end(conn) -> None:  # type: ignore[no-untyped-def]
    if conn.get_execution_options().get(READ_ONLY):
        conn.exec_driver_sql("PRAGMA query_only = OFF")


def _postgres_begin(conn) -> None:  # type: ignore[no-untyped-def]
    if conn.get_execution_options().get(READ_ONLY):
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is off).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA cache_size=-65536")  # 64 MiB: bulk imports stay in memory until commit
    cur.close()


def alembic_config(engine: Engine) -> Config:
    """An Alembic config pointing at the packaged migrations and ``engine``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    command.upgrade(alembic_config(engine), "head")
