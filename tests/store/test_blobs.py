"""The content-addressed blob store."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from dure.errors import InvalidInput, NotFound
from dure.store.blobs import BlobStore


def test_put_is_content_addressed_and_deduplicated(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    sha = blobs.put(b"panel image")
    assert sha == hashlib.sha256(b"panel image").hexdigest()
    assert blobs.put(b"panel image") == sha
    assert blobs.get(sha) == b"panel image"
    assert len([p for p in tmp_path.rglob("*") if p.is_file()]) == 1
    assert not list(tmp_path.rglob(".incoming-*"))


def test_names_that_are_not_sha256_are_refused(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    with pytest.raises(InvalidInput, match="sha256"):
        blobs.get("../../etc/passwd")


def test_damaged_blob_is_not_served(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    sha = blobs.put(b"original")
    blobs.path_of(sha).write_bytes(b"tampered")
    with pytest.raises(NotFound, match="damaged"):
        blobs.get(sha)
