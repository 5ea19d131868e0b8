"""The one temp-file-then-rename writer: a reader never sees half a file, a crash never leaves one.

Every file ceusdesk or the trainer writes for others to read (reports, manifests, checkpoints, cache
entries, JSON documents) goes through :func:`write_atomic`, so the rules live in one place: the temp file
sits beside the target (same file system, so the rename is atomic), it is removed on any failure, and the
final file gets the ordinary permissions the umask gives (mkstemp makes 0600).
"""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike[str], content: bytes | str | Callable[[IO[bytes]], Any], *,
                 make_parents: bool = True) -> Path:
    """Write ``content`` to ``path`` through a temp file in the same folder, then rename.

    Parameters
    ----------
    path
        The target file. Its folder is created when ``make_parents`` is true.
    content
        Bytes, text (written as UTF-8), or a callable that writes into the open binary temp file
        (for ``np.savez`` or ``torch.save``).

    Returns
    -------
    The target path. On any error the temp file is removed and the error propagates unchanged.
    """
    path = Path(path)
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            if callable(content):
                content(fh)
            elif isinstance(content, str):
                fh.write(content.encode("utf-8"))
            else:
                fh.write(content)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: str | os.PathLike[str], obj: Any, *, indent: int = 2) -> Path:
    """Standard JSON (``allow_nan=False``: NaN or Infinity is a bug to surface, not to write) + newline."""
    text = json.dumps(obj, indent=indent, ensure_ascii=False, allow_nan=False) + "\n"
    return write_atomic(path, text)
