"""Reading uploaded files with a size limit, so a huge upload is refused, not buffered."""

from __future__ import annotations

from fastapi import UploadFile

from dure.errors import PayloadTooLarge

CHUNK = 1 << 20


async def read_upload(upload: UploadFile, max_bytes: int, field: str) -> bytes:
    """The upload's bytes; PayloadTooLarge as soon as it passes ``max_bytes``."""
    parts: list[bytes] = []
    size = 0
    while chunk := await upload.read(CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(field, f"the upload is over the limit of {max_bytes:,} bytes")
        parts.append(chunk)
    return b"".join(parts)
