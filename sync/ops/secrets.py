"""Secret files (tokens, keys): written once with mode 0600, flushed to disk before use."""

from __future__ import annotations

import os
from pathlib import Path


def write_secret(path: Path, data: bytes, *, replace: bool = True) -> None:
    """Write ``data`` readable only by the owner and fsync it. With ``replace=False`` an existing
    file is an error (``FileExistsError``): a key is never silently overwritten."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if replace else os.O_EXCL)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
