"""`dure edge` commands: load verifies against the pinned site key, status reads the box,
errors are one line naming the problem (exit 2), enrol names an unreachable site."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from click.testing import CliRunner

from dure.cli import main
from dure.collab.packages import build_package, new_signing_key
from dure.collab.signing import fingerprint
from dure.edge.identity import EdgeIdentity, save_identity
from dure.edge.models import ModelShelf
from dure.ports import free_port


def enrolled_box(home: Path) -> bytes:
    """A box enrolled at a site whose key is returned (private PEM)."""
    private, public = new_signing_key()
    save_identity(
        home,
        EdgeIdentity("edge-1", "org-1", "press-1", "http://127.0.0.1:9", "/nowhere",
                     public.decode(), fingerprint(public)),
    )  # fmt: skip
    return private


def package(
    private: bytes, package_id: str = "pkg1", signer: str = "org-1", **card: object
) -> bytes:
    fields = {
        "name": "edge inspector", "version": 1, "package_id": package_id,
        "kind": "edge-inspector", "edge_format": "dure-edge/1", "model_version_id": "mv1",
    }  # fmt: skip
    return build_package(b"bundle-bytes", {**fields, **card}, signer, private)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_load_installs_a_package_signed_by_the_pinned_site_and_makes_it_current(
    tmp_path: Path,
) -> None:
    home = tmp_path / "box"
    private = enrolled_box(home)
    file = tmp_path / "p.dmp"
    file.write_bytes(package(private))
    code, out = run("edge", "load", str(file), "--home", str(home))
    assert code == 0, out
    assert "installed package pkg1" in out
    shelf = ModelShelf(home / "models", json_identity(home))
    assert shelf.current() == "pkg1" and shelf.has("pkg1")


def json_identity(home: Path) -> EdgeIdentity:
    return EdgeIdentity(**json.loads((home / "edge.json").read_text()))


def test_load_refuses_foreign_tampered_and_non_edge_packages(tmp_path: Path) -> None:
    home = tmp_path / "box"
    private = enrolled_box(home)
    stranger, _ = new_signing_key()
    good = package(private)
    members = {}
    with tarfile.open(fileobj=io.BytesIO(good)) as tar:
        for member in tar.getmembers():
            members[member.name] = tar.extractfile(member).read()  # type: ignore[union-attr]
    members["model.bin"] = b"other-bytes!"
    out_buf = io.BytesIO()
    with tarfile.open(fileobj=out_buf, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    cases = {
        "foreign": (package(stranger), "does not match"),
        "other-org": (package(private, signer="org-2"), "not a trusted partner"),
        "tampered": (out_buf.getvalue(), "tampered"),
        "not-edge": (package(private, kind="inspector", edge_format=None), "not an edge package"),
        "odd-id": (package(private, package_id="../../etc"), "not a plain name"),
    }
    for name, (data, why) in cases.items():
        file = tmp_path / f"{name}.dmp"
        file.write_bytes(data)
        code, out = run("edge", "load", str(file), "--home", str(home))
        assert code == 2 and why in out, (name, out)
    assert not (home / "models" / "current").exists()


def test_commands_on_a_box_never_enrolled_say_so(tmp_path: Path) -> None:
    file = tmp_path / "p.dmp"
    file.write_bytes(b"x")
    for args in (["status"], ["load", str(file)]):
        code, out = run("edge", *args, "--home", str(tmp_path / "empty"))
        assert code == 2 and "dure edge enrol" in out, out
    config = tmp_path / "edge.toml"
    config.write_text(f'home = "{tmp_path / "empty"}"\n[input]\nfolder = "{tmp_path}"\n')
    code, out = run("edge", "run", "--config", str(config))
    assert code == 2 and "dure edge enrol" in out
    config.write_text('home = "x"\n[input]\nfolder = "y"\n[output]\nmqtt_port = "a"\n')
    code, out = run("edge", "run", "--config", str(config))
    assert code == 2 and "output.mqtt_port" in out


def test_enrol_names_a_site_that_cannot_be_reached(tmp_path: Path) -> None:
    token = tmp_path / "t"
    token.write_text("tok")
    url = f"http://127.0.0.1:{free_port()}"
    code, out = run("edge", "enrol", "--site", url, "--token-file", str(token),
                    "--name", "n", "--home", str(tmp_path / "box"))  # fmt: skip
    assert code == 2 and out.startswith("error: site:") and "ConnectError" in out
    assert not (tmp_path / "box" / "edge.json").exists()
    code, out = run("edge", "enrol", "--site", "ftp://x", "--token-file", str(token),
                    "--name", "n", "--home", str(tmp_path / "box"))  # fmt: skip
    assert code == 2 and "error: site:" in out


def test_status_reports_the_spool_of_a_box(tmp_path: Path) -> None:
    home = tmp_path / "box"
    enrolled_box(home)
    code, out = run("edge", "status", "--home", str(home))
    assert code == 0 and json.loads(out)["edge_id"] == "edge-1"


def test_status_and_load_beside_a_running_box_leave_its_writes_in_flight_alone(
    tmp_path: Path,
) -> None:
    # a write of the running box between its tmp file and the rename must not be removed by
    # a person's `dure edge status` or `dure edge load` (the rename would fail, the box stop)
    from dure.edge.spool import ResultSpool

    home = tmp_path / "box"
    private = enrolled_box(home)
    ResultSpool(home / "spool").close()
    (home / "models").mkdir()
    in_flight = [
        home / "spool" / "images" / f"{'a' * 32}.png.tmp",
        home / "spool" / "maps" / f"{'a' * 32}.npy.tmp",
        home / "models" / ".pkg0.tmp",
    ]
    for path in in_flight[:2]:
        path.write_bytes(b"half")
    in_flight[2].mkdir()
    code, _ = run("edge", "status", "--home", str(home))
    assert code == 0
    file = tmp_path / "p.dmp"
    file.write_bytes(package(private))
    code, out = run("edge", "load", str(file), "--home", str(home))
    assert code == 0, out
    assert all(path.exists() for path in in_flight)
