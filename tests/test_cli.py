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
    daesung_model = out.split(", model ")[-1].split()[0]
    refused = dure(
        "inspect", "--org", "hanbit", "--model", daesung_model, str(tmp_path / "good.png"),
        ok=False,
    ).output  # fmt: skip
    assert f"{daesung_model}' does not exist or is not yours" in refused  # its supplier's


def test_a_new_company_sets_up_from_the_cli(dure, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dure("org", "create", "Hanbit", "--kind", "oem", "--slug", "hanbit")
    dure("org", "create", "Saebyeok", "--kind", "supplier", "--slug", "sb", "--supplies", "hanbit")
    dure("org", "create", "Other", "--kind", "supplier", "--slug", "other")
    made = dure("setup", "part", "HB-DOOR", "--name", "Door", "--org", "hanbit").output
    oem_part = made.strip().rsplit(" ", 1)[-1]
    dure("setup", "defect-type", "scratch", "--name", "Scratch", "--org", "hanbit")
    org = ("--org", "sb")
    assert "created site 'Changwon'" in dure("setup", "site", "Changwon", *org).output
    dure("setup", "line", "Line A", "--site", "Changwon", *org)
    dure("setup", "station", "Camera 1", "--line", "Line A", *org)
    dure("setup", "part", "SB-1", "--name", "Door panel", "--oem-part", oem_part, *org)
    dure("setup", "defect-type", "burr", "--name", "Burr", "--severity", "3", *org)
    dure("setup", "asset", "press-7", "--line", "Line A", "--station", "Camera 1", *org)
    dure("setup", "channel", "press-7", "vibration", "--unit", "mm/s", *org)
    shown = dure("setup", "show", *org).output
    for expected in (
        "site     Changwon",
        "line     Line A  (site Changwon)",
        "station  Camera 1  (line Line A, process)",
        "part     SB-1  Door panel",
        "defect   scratch  Scratch  (severity 2, from Hanbit, read-only)",
        "defect   burr  Burr  (severity 3, own)",
        "asset    press-7  channels: vibration [mm/s]",
    ):
        assert expected in shown, shown
    # the sensor file finds the machine and its channel by name
    data = tmp_path / "press.csv"
    data.write_text("asset,channel,time,value\npress-7,vibration,2026-01-01T00:00:00Z,1.5\n")
    assert "1 rows, 1 new, 0 rejected" in dure("import", "sensors", str(data), *org).output
    # another organisation sees none of it, and cannot hang a line on its site
    assert "Changwon" not in dure("setup", "show", "--org", "other").output
    result = dure("setup", "line", "L", "--site", "Changwon", "--org", "other", ok=False)
    assert "site: no site 'Changwon' in your organisation" in result.output
    result = dure(
        "setup", "part", "O-1", "--name", "X", "--oem-part", oem_part, "--org", "other", ok=False
    )
    assert "oem_part_id" in result.output and "not a part of an OEM you supply" in result.output


def test_setup_commands_refuse_bad_input_naming_the_field(dure, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dure("org", "create", "Sup", "--kind", "supplier", "--slug", "sup")
    org = ("--org", "sup")
    assert "name: give 1 to 200 characters" in dure("setup", "site", "  ", *org, ok=False).output
    result = dure("setup", "defect-type", "Burr Mark", "--name", "Burr", *org, ok=False)
    assert "code: give 1 to 64 lower-case letters" in result.output
    result = dure("setup", "defect-type", "burr", "--name", "B", "--severity", "7", *org, ok=False)
    assert "severity: give 1 (minor), 2 or 3" in result.output
    result = dure("setup", "channel", "press", "vib", *org, ok=False)
    assert "asset: no machine 'press'" in result.output and "dure setup asset" in result.output
    dure("setup", "site", "Plant", *org)
    dure("setup", "site", "Plant", *org)
    result = dure("setup", "line", "L", "--site", "Plant", *org, ok=False)
    assert "site: 2 sites are named 'Plant': give its id" in result.output
    assert "Usage:" in dure("setup", "--help").output


def test_importing_images_of_an_unknown_part_points_to_dure_setup(dure, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dure("org", "create", "Sup", "--kind", "supplier", "--slug", "sup")
    folder = tmp_path / "imgs"
    folder.mkdir()
    result = dure("import", "images", str(folder), "--org", "sup", "--part", "P-9", ok=False)
    assert "no part 'P-9' in sup; create it with `dure setup part P-9 --name NAME --org sup`" in (
        result.output
    )
