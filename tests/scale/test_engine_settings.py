"""The Ray settings: which engine DURE_RAY_ADDRESS gives, and the token kept as a secret."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from dure.errors import InvalidInput
from dure.scale.cluster import RayEngine, local_token, read_token
from dure.settings import Settings


def test_no_address_means_no_engine(tmp_path: Path) -> None:
    assert RayEngine.from_settings(Settings(home=tmp_path)) is None


@pytest.mark.parametrize("address", ["nowhere", "host:0", "host:port", ":6379", "ray://x"])
def test_a_bad_address_is_refused_by_name(tmp_path: Path, address: str) -> None:
    with pytest.raises(ValidationError, match="DURE_RAY_ADDRESS"):
        Settings(home=tmp_path, ray_address=address)


def test_local_makes_a_private_token_once(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, ray_address="local", ray_min_images=100)
    engine = RayEngine.from_settings(settings)
    assert engine is not None and engine.token_file == settings.key_dir / "ray.token"
    assert stat.S_IMODE(os.stat(engine.token_file).st_mode) == 0o600
    token = read_token(engine.token_file)
    assert len(token) == 64 and local_token(settings.key_dir) == engine.token_file
    assert read_token(engine.token_file) == token  # made once, kept
    assert not engine.uses_ray_for(99) and engine.uses_ray_for(100)


def test_a_cluster_address_uses_the_given_token_file(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("secret-token\n")
    token.chmod(0o600)
    settings = Settings(home=tmp_path, ray_address="ray://10.0.0.5:10001", ray_token_file=token)
    engine = RayEngine.from_settings(settings)
    assert engine is not None and engine.address == "ray://10.0.0.5:10001"
    assert engine.token_file == token and not (settings.key_dir / "ray.token").exists()


def test_a_token_others_can_read_or_an_empty_one_is_refused(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("secret-token\n")
    token.chmod(0o644)
    with pytest.raises(InvalidInput, match="ray_token_file: .* chmod 600"):
        read_token(token)
    token.write_text("\n")
    token.chmod(0o600)
    with pytest.raises(InvalidInput, match="ray_token_file: .* holds no token"):
        read_token(token)
    with pytest.raises(InvalidInput, match="ray_token_file: cannot read"):
        read_token(tmp_path / "missing")
