"""Process-record files: declared schema, unknown columns, duplicate keys, idempotent import."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dure.domain.users import Caller, Role
from dure.errors import InvalidInput, RejectedFile
from dure.ingest.process_files import ProcessSchema, parse_process_file
from dure.services.imports.files import import_process_file
from dure.store.session import Store
from dure.store.tables import process_records
from tests.factories import World
from tests.memory_probe import peak_memory

SCHEMA = ProcessSchema.from_dict(
    {
        "parameters": {
            "force": {"unit": "kN", "min": 0, "max": 900},
            "speed": {"unit": "spm", "required": False},
        }
    }
)


def _caller(world: World) -> Caller:
    return Caller(org_id=world.a.org.id, user_id=None, role=Role.OPERATOR, org_kind="supplier")


def _rows(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(process_records)).scalar_one())


def _file(*rows: str) -> bytes:
    return ("part,time,lot,serial,force,speed\n" + "".join(r + "\n" for r in rows)).encode()


def test_schema_errors_name_the_parameter() -> None:
    with pytest.raises(InvalidInput, match="schema.parameters.force"):
        ProcessSchema.from_dict({"parameters": {"force": {"min": 1}}})
    with pytest.raises(InvalidInput, match="min 5 is above max 1"):
        ProcessSchema.from_dict({"parameters": {"force": {"unit": "kN", "min": 5, "max": 1}}})
    with pytest.raises(InvalidInput, match="not valid JSON"):
        ProcessSchema.from_json("{oops", "schema.json")


def test_wrong_types_ranges_and_duplicate_keys_are_named() -> None:
    parsed = parse_process_file(
        _file(
            "P,2026-01-01T00:00:00Z,L,1,500,30",
            "P,2026-01-01T00:00:01Z,L,2,heavy,30",
            "P,2026-01-01T00:00:02Z,L,3,950,30",
            "P,2026-01-01T00:00:00Z,L,1,510,31",
        ),
        "p.csv",
        SCHEMA,
    )
    found = {(m.row, m.column) for m in parsed.errors.messages}
    assert found == {(2, "force"), (3, "force"), (4, "time")}
    assert "duplicate key" in next(m.reason for m in parsed.errors.messages if m.row == 4)


def test_columns_must_match_the_declared_schema() -> None:
    with pytest.raises(InvalidInput, match=r"unknown column\(s\) \['colour'\]"):
        parse_process_file(
            b"part,time,force,colour\nP,2026-01-01T00:00:00Z,1,red\n", "p.csv", SCHEMA
        )
    with pytest.raises(InvalidInput, match=r"missing column\(s\) \['force'\]"):
        parse_process_file(b"part,time\nP,2026-01-01T00:00:00Z\n", "p.csv", SCHEMA)


def test_import_resolves_names_and_is_idempotent(store: Store, world: World) -> None:
    part = f"{world.a.org.slug}-P1"
    lot = f"{world.a.org.slug}-L1"
    data = _file(
        f"{part},2026-03-01T00:00:00Z,{lot},10,500,30", f"{part},2026-03-01T00:00:01Z,{lot},11,510,"
    )
    before = _rows(store)
    with store.session(_caller(world)) as s:
        first = import_process_file(s, data, "p.csv", SCHEMA)
    with store.session(_caller(world)) as s:
        again = import_process_file(s, data, "p.csv", SCHEMA)
    assert first.rows_new == 2 and again.already_imported and _rows(store) == before + 2
    with store.session(_caller(world)) as s:
        newest = s.process_records.list(serial="11").items[0]
    assert newest.values == {"force": 510.0} and newest.units["force"] == "kN"


def test_another_suppliers_part_is_unknown_and_nothing_is_written(
    store: Store, world: World
) -> None:
    data = _file(f"{world.b.org.slug}-P1,2026-03-01T00:00:00Z,,1,500,30")
    before = _rows(store)
    with pytest.raises(RejectedFile, match="no part named 'sup-b-P1'"):
        with store.session(_caller(world)) as s:
            import_process_file(s, data, "p.csv", SCHEMA)
    assert _rows(store) == before


def test_a_header_of_a_million_columns_is_refused_before_parsing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """It once took 17 GB to parse and answered with every column's name (10.9 MB): now it
    is refused from its header, in words, costing a subprocess little memory."""

    header = ",".join(f"c{k}" for k in range(1_000_000))
    path = tmp_path / "wide.csv"
    path.write_text(header + "\n" + ",".join("1" for _ in range(1_000_000)) + "\n")
    with pytest.raises(InvalidInput, match="header row is longer than 64 KB") as caught:
        parse_process_file(path.read_bytes(), "wide.csv", SCHEMA)
    assert len(str(caught.value)) < 300
    narrow = ",".join(f"c{k}" for k in range(5000)) + "\n"  # 30 KB, 5,000 columns
    with pytest.raises(InvalidInput, match="5,000 columns; at most 1,000 are read"):
        parse_process_file(narrow.encode(), "wide.csv", SCHEMA)
    kind, peak_mb = peak_memory(
        "from dure.ingest.process_files import ProcessSchema, parse_process_file\n"
        "schema = ProcessSchema.from_dict({'parameters': {'force': {'unit': 'kN'}}})\n",
        "parse_process_file(open(sys.argv[1], 'rb').read(), 'wide.csv', schema)",
        path,
    )
    assert kind == "InvalidInput" and peak_mb < 300, peak_mb


def test_a_header_row_without_an_end_is_refused() -> None:
    with pytest.raises(InvalidInput, match="header row is longer than 64 KB"):
        parse_process_file(b"a" * 100_000, "long.csv", SCHEMA)
