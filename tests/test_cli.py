"""The `dure` command line: set-up commands, imports and their error messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dure.cli import main
from dure.settings import Settings


@pytest.fixture
def dure(settings: Settings):  # type: ignore[no-untyped-def]
    runner = CliRunner()
    args = ["--home", str(settings.home)]
    if settings.database_url:
        args += ["--database-url", settings.database_url]

    def run(*argv: str, ok: bool = True):  # type: ignore[no-untyped-def]
        result = runner.invoke(main, [*args, *argv], catch_exceptions=False)
        assert (result.exit_code == 0) == ok, result.output
        return result

    return run


def test_every_command_has_help(dure) -> None:  # type: ignore[no-untyped-def]
    for argv in (
        ["up"],
        ["init"],
        ["demo"],
        ["org", "create"],
        ["user", "create"],
        ["token", "create"],
        ["import", "sensors"],
        ["import", "process"],
        ["import", "images"],
        ["bench", "ingest"],
        ["bench", "vision"],
        ["train"],
        ["inspect"],
    ):
        assert "Usage:" in dure(*argv, "--help").output


def test_set_up_an_organisation_from_scratch(dure, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dure("init")
    dure("org", "create", "Hanbit Appliances", "--kind", "oem", "--slug", "hanbit")
    dure(
        "org",
        "create",
        "Daesung Press",
        "--kind",
        "supplier",
        "--slug",
        "daesung",
        "--supplies",
        "hanbit",
    )
    listed = dure("org", "list").output
    assert "hanbit" in listed and "daesung" in listed
    dure(
        "user",
        "create",
        "kim@daesung.example",
        "--org",
        "daesung",
        "--name",
        "Kim",
        "--role",
        "engineer",
    )
    secret = dure(
        "token", "create", "kim@daesung.example", "--org", "daesung", "--days", "30"
    ).output.strip()
    assert secret.startswith("dure_")


def test_clear_errors_and_exit_code_2(dure, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dure("org", "create", "X", "--kind", "supplier", "--slug", "x-co")
    result = dure("org", "create", "Y", "--kind", "supplier", "--slug", "x-co", ok=False)
    assert (
        result.exit_code == 2
        and "error: an organisation with the short name 'x-co' exists" in result.output
    )
    result = dure("user", "create", "a@b.c", "--org", "nobody", "--name", "A", ok=False)
    assert "no organisation with the short name 'nobody'" in result.output


def test_import_commands_report_rows(dure, tmp_path: Path, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    from dure.domain.plant import Asset
    from dure.services.platform.accounts import system_caller
    from dure.store.session import Store

    dure("org", "create", "Sup", "--kind", "supplier", "--slug", "sup")
    store = Store.open(settings)
    with store.system() as s:
        org = s.organisations.get_by_slug("sup")
    with store.session(system_caller(org)) as s:
        s.assets.add(Asset(org_id=org.id, name="press"))
    good = tmp_path / "s.csv"
    good.write_text("asset,channel,time,value\npress,vib,2026-01-01T00:00:00Z,1\n")
    assert (
        "1 rows, 1 new, 0 rejected" in dure("import", "sensors", str(good), "--org", "sup").output
    )
    assert "already imported" in dure("import", "sensors", str(good), "--org", "sup").output
    bad = tmp_path / "b.csv"
    bad.write_text("asset,channel,time,value\npress,vib,2026-01-01T00:00:01Z,x\n")
    result = dure("import", "sensors", str(bad), "--org", "sup", ok=False)
    assert "b.csv, row 1, column 'value': 'x' is not a number" in result.output
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"parameters": {"force": {"unit": "kN"}}}))
    proc = tmp_path / "p.csv"
    proc.write_text("part,time,force\nNOPE,2026-01-01T00:00:00Z,1\n")
    result = dure("import", "process", str(proc), "--org", "sup", "--schema", str(schema), ok=False)
    assert "no part named 'NOPE'" in result.output


def test_train_then_inspect_the_demo_part(dure, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from dure.services.demo.sheet_metal import sheet_image

    dure("demo")
    part = ["--org", "daesung", "--part", "DAESUNG-HB-DOOR-01"]
    trained = dure("train", *part, "--image-size", "128", "--coreset-ratio", "0.25").output
    assert "100.0%  done" in trained and "ready: threshold" in trained
    assert "defect types: crack, dent, inclusion, rust, scratch" in trained
    for seed, label in ((9001, "good"), (9002, "rust")):
        (tmp_path / f"{label}.png").write_bytes(sheet_image(seed, label).png())
    out = dure(
        "inspect",
        "--org",
        "daesung",
        "--heatmaps",
        str(tmp_path / "heat"),
        str(tmp_path / "good.png"),
        str(tmp_path / "rust.png"),
    ).output
    assert "rust.png" in out and " ng " in out.split("rust.png")[1].splitlines()[0]
    assert (tmp_path / "heat" / "rust-heatmap.png").exists()
    refused = dure("inspect", "--org", "hanbit", str(tmp_path / "good.png"), ok=False).output
    assert "no ready inspection model in hanbit" in refused  # the OEM has no lines here
