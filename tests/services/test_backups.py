"""`dure backup` / `dure restore`: a whole install comes back; a bad backup changes nothing."""

from __future__ import annotations

import glob
import json
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import delete, inspect, select, text

from dure.cli import main
from dure.collab.signing import KeyRing
from dure.domain.ids import new_id
from dure.errors import Conflict, InvalidInput
from dure.services.platform.accounts import create_org
from dure.services.platform.backups import create_backup, restore_backup
from dure.settings import Settings
from dure.store.dumps import find_tool
from dure.store.engine import alembic_config
from dure.store.session import Store
from dure.store.tables import metadata, process_records
from tests.factories import World

# the schema this code migrates to, and the one before it (as an older Dure left it)
SCRIPTS = ScriptDirectory.from_config(alembic_config(None))  # type: ignore[arg-type]
HEAD = SCRIPTS.get_current_head()
OLDER = str(SCRIPTS.get_revision(HEAD).down_revision)  # revisions need not be consecutive


def _rows(store: Store) -> dict[str, list[str]]:
    """Every row of every table, in a stable order."""
    with store.engine.connect() as conn:
        return {
            table.name: sorted(repr(tuple(r)) for r in conn.execute(select(table)))
            for table in metadata.sorted_tables
        }


def _files(settings: Settings) -> dict[str, bytes]:
    """Every file under the blob, model and key folders, by path."""
    found = {}
    for root in (settings.blob_dir, settings.model_dir, settings.key_dir):
        for path in sorted(root.rglob("*")):
            if path.is_file():
                found[str(path.relative_to(settings.home))] = path.read_bytes()
    return found


def _with_key_and_model(world: World, settings: Settings) -> None:
    KeyRing(settings.key_dir).create(world.oem.org.id)
    model = settings.model_dir / "panel-inspector-1"
    model.mkdir(parents=True)
    (model / "card.json").write_text('{"kind": "patchcore"}')


def _cli(settings: Settings) -> Callable[..., Any]:
    args = ["--home", str(settings.home)]
    if settings.database_url:
        args += ["--database-url", settings.database_url]

    def run(*argv: str, code: int = 0) -> str:
        result = CliRunner().invoke(main, [*args, *argv], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    return run


def test_a_backup_brings_back_rows_blobs_models_and_keys(
    world: World, store: Store, settings: Settings, tmp_path: Path
) -> None:
    _with_key_and_model(world, settings)
    rows, files = _rows(store), _files(settings)
    assert any(name.startswith("blobs/") for name in files) and rows["process_records"]
    dure = _cli(settings)
    backup = tmp_path / "backup"
    said = dure("backup", str(backup))
    assert f"backed up {store.backend} database (schema {HEAD})" in said

    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["format_version"] == 1 and manifest["backend"] == store.backend
    assert manifest["alembic_revision"] == HEAD and manifest["created_at"]
    keys = [n for n in manifest["files"] if n.startswith("keys/")]
    assert keys and any(n.startswith("blobs/") for n in manifest["files"])
    assert stat.S_IMODE(backup.stat().st_mode) == 0o700
    for path in backup.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path

    # Things change after the backup: rows deleted and added, a blob lost, a key replaced.
    with store.engine.begin() as conn:
        conn.execute(delete(process_records))
    with store.system() as s:
        create_org(s, "Late Comer", "supplier", "late-comer")
    blob = next(settings.blob_dir.rglob("*"), None)
    for path in settings.blob_dir.rglob("*"):
        if path.is_file():
            path.unlink()
    (settings.key_dir / Path(keys[0]).name).write_bytes(b"not the key")
    assert blob is not None and _rows(store) != rows and _files(settings) != files

    refused = dure("restore", str(backup), code=2)
    assert "already holds data" in refused and "--force" in refused
    assert _rows(store)["organisations"] != rows["organisations"]  # nothing changed

    said = dure("restore", str(backup), "--force")
    assert f"restored {store.backend} database (schema {HEAD})" in said
    assert _rows(store) == rows
    assert _files(settings) == files
    assert stat.S_IMODE(settings.key_dir.stat().st_mode) == 0o700


def test_a_backup_restores_into_a_new_empty_install(
    world: World,
    settings: Settings,
    install_settings: Callable[..., Settings],
    tmp_path: Path,
    store: Store,
) -> None:
    _with_key_and_model(world, settings)
    rows, files = _rows(store), _files(settings)
    create_backup(settings, tmp_path / "backup")
    fresh = install_settings("fresh")
    restore_backup(fresh, tmp_path / "backup")  # empty: no --force needed
    restored = Store.open(fresh)
    try:
        assert _rows(restored) == rows
    finally:
        restored.engine.dispose()
    assert _files(fresh) == files


def test_a_backup_taken_while_the_install_writes_is_whole(
    world: World,
    store: Store,
    settings: Settings,
    install_settings: Callable[..., Settings],
    tmp_path: Path,
) -> None:
    stop, written = threading.Event(), []

    def keep_writing() -> None:
        while not stop.is_set():
            with store.system() as s:
                written.append(create_org(s, "Busy", "supplier", f"busy-{new_id()[:8]}").id)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        _wait(lambda: len(written) >= 3)
        create_backup(settings, tmp_path / "live")
        after = len(written)
        _wait(lambda: len(written) >= after + 3)
    finally:
        stop.set()
        writer.join()
    fresh = install_settings("fresh")
    restore_backup(fresh, tmp_path / "live")
    restored = Store.open(fresh)
    try:
        orgs = _rows(restored)["organisations"]
    finally:
        restored.engine.dispose()
    kept = sum(any(org_id in row for row in orgs) for org_id in written)
    assert 0 < kept < len(written)  # a snapshot taken mid-way, restored whole
    assert written[:kept] == [w for w in written if any(w in row for row in orgs)]


def _wait(condition: Callable[[], bool], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the writer stalled"
        time.sleep(0.01)


def test_an_older_backup_is_brought_up_to_this_schema(
    world: World,
    store: Store,
    settings: Settings,
    install_settings: Callable[..., Settings],
    tmp_path: Path,
) -> None:
    command.downgrade(alembic_config(store.engine), OLDER)  # as an older Dure left it
    try:
        create_backup(settings, tmp_path / "old")
    finally:  # the PostgreSQL pass shares this database with the next tests
        command.upgrade(alembic_config(store.engine), "head")
    assert json.loads((tmp_path / "old" / "manifest.json").read_text())["alembic_revision"] == (
        OLDER
    )
    fresh = install_settings("fresh")
    assert restore_backup(fresh, tmp_path / "old").revision == OLDER
    restored = Store.open(fresh, upgrade=False)
    try:
        with restored.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD
            assert inspect(conn).has_table("login_failures")
    finally:
        restored.engine.dispose()


def _tamper_blob(backup: Path, manifest: dict[str, Any]) -> str:
    name = next(n for n in manifest["files"] if n.startswith("blobs/"))
    path = backup / name
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")
    return f"{name}: its checksum does not match"


def _tamper_database(backup: Path, manifest: dict[str, Any]) -> str:
    path = backup / manifest["database"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    return f"{manifest['database']}: its checksum does not match"


def _newer_schema(backup: Path, manifest: dict[str, Any]) -> str:
    manifest["alembic_revision"] = "0999"
    return "alembic_revision: the backup's schema revision '0999' is newer than this Dure"


def _other_backend(backup: Path, manifest: dict[str, Any]) -> str:
    manifest["backend"] = "postgresql" if manifest["backend"] == "sqlite" else "sqlite"
    return f"backend: the backup holds a {manifest['backend']} database"


def _stray_file(backup: Path, manifest: dict[str, Any]) -> str:
    (backup / "keys" / "extra.pem").write_bytes(b"slipped in")
    return "keys/extra.pem: is in the backup folder but not in its manifest"


def _lost_file(backup: Path, manifest: dict[str, Any]) -> str:
    name = next(n for n in manifest["files"] if n.startswith("models/"))
    (backup / name).unlink()
    return f"{name}: listed in the manifest but missing"


@pytest.mark.parametrize(
    "tamper",
    [_tamper_blob, _tamper_database, _newer_schema, _other_backend, _stray_file, _lost_file],
)
def test_a_damaged_or_foreign_backup_is_refused_and_nothing_changes(
    world: World,
    store: Store,
    settings: Settings,
    tmp_path: Path,
    tamper: Callable[[Path, dict[str, Any]], str],
) -> None:
    _with_key_and_model(world, settings)
    backup = tmp_path / "backup"
    create_backup(settings, backup)
    manifest = json.loads((backup / "manifest.json").read_text())
    expected = tamper(backup, manifest)
    (backup / "manifest.json").write_text(json.dumps(manifest))
    with store.system() as s:  # the install moves on after the backup
        create_org(s, "Late Comer", "supplier", f"late-{new_id()[:6]}")
    rows, files = _rows(store), _files(settings)
    with pytest.raises(InvalidInput) as refused:
        restore_backup(settings, backup, force=True)
    assert str(refused.value).startswith(expected)
    assert _rows(store) == rows and _files(settings) == files
    staged = (".restoring-", ".replaced-")
    leftovers = [p for p in settings.home.iterdir() if p.name.startswith(staged)]
    assert leftovers == []


def test_a_missing_manifest_and_a_used_destination_are_refused(
    world: World, settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "database.sqlite").write_bytes(b"x")
    with pytest.raises(InvalidInput, match="manifest.json: missing: not a Dure backup"):
        restore_backup(settings, tmp_path / "half", force=True)
    with pytest.raises(InvalidInput, match="DEST: .* exists and is not an empty folder"):
        create_backup(settings, tmp_path / "half")
    create_backup(settings, tmp_path / "ok")
    with pytest.raises(Conflict, match="already holds data .*give --force"):
        restore_backup(settings, tmp_path / "ok")


def test_a_missing_postgresql_program_is_named_with_the_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(InvalidInput, match="pg_dump_missing: not found on PATH nor under"):
        find_tool("pg_dump_missing")
    if glob.glob("/usr/lib/postgresql/*/bin/pg_dump"):  # make test installs PostgreSQL
        assert find_tool("pg_dump").parts[:3] == ("/", "usr", "lib")
