"""Atomic file and folder writes.

Every output of the pipeline is written under a temporary name in the same folder and renamed into place
only when complete, so an interrupted job never leaves something a rerun (Snakemake, DVC or a user) would take
as finished.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from igae.errors import IgaeError

#: errno values that mean "this output cannot be written here" (full disk, quota, file too large, read-only).
_DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}


class OutputWriteError(IgaeError):
    """An output could not be written (a full disk, no permission): the file named was left as it was."""


@contextlib.contextmanager
def atomic_directory(final: Path) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``final``; on success replace ``final`` with it.

    On any exception the temporary folder is removed and ``final`` is left as it was (absent, if it was).
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    try:
        yield tmp
    except BaseException as error:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(error, OSError) and error.errno in _DISK_FULL:  # a read error inside stays what it is
            raise OutputWriteError(f"cannot write '{final}': {error.strerror}; nothing was replaced") from error
        raise
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp creates 0700
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: Path, data: bytes, previous: Path | None = None) -> None:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename; with ``previous``, the file it
    replaces is renamed there first (a kill between the two renames leaves ``previous`` and no ``path``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual permissions
        if previous is not None and path.is_file():
            os.replace(path, previous)
        os.replace(tmp, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(error, OSError):  # a full disk, a quota, a read-only folder: say which file
            raise OutputWriteError(
                f"cannot write '{path}' ({len(data)} bytes): {error.strerror or error}; nothing was replaced"
            ) from error
        raise


@contextlib.contextmanager
def atomic_file(final: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``final`` with the same suffix (for writers that take a file name, such as
    a video encoder choosing its container by extension); on success rename it to ``final``, on any exception
    remove it and leave ``final`` as it was."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{final.stem}.tmp-", suffix=final.suffix, dir=final.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, final)
    except BaseException as error:
        tmp.unlink(missing_ok=True)
        if isinstance(error, OSError) and error.errno in _DISK_FULL:
            raise OutputWriteError(f"cannot write '{final}': {error.strerror}; nothing was replaced") from error
        raise


def write_png_atomic(path: Path, image: Any) -> None:
    """Write a PIL image, or a uint8 array [H, W, 3], as a PNG, atomically."""
    import io

    from PIL import Image

    if not isinstance(image, Image.Image):
        image = Image.fromarray(image)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    write_bytes_atomic(path, buffer.getvalue())


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write ``payload`` as indented JSON, atomically."""
    write_bytes_atomic(path, (json.dumps(payload, indent=2) + "\n").encode())
