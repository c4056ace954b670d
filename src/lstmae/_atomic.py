"""Atomic file writes: write to a temporary file beside the target, then rename.

A reader never sees a half-written file: the target either keeps its previous
content (the writer raised, the process died) or holds the complete new content.
The temporary file lives in the target's directory (``os.replace`` is only atomic
within one file system) and is named ``.tmp-<random>-<target name>``, so that
writers that look at the extension (``numpy.save`` appends ``.npy``, pandas infers
compression from ``.gz``) see the target's extension.

Two entry points:

``atomic_path(path)``
    yields a temporary *path*; hand it to any writer (``np.save``,
    ``DataFrame.to_parquet``, ``safetensors.torch.save_file``, ``fig.savefig``).
``atomic_write(path, mode="wb")``
    yields an open *file object* (binary or text).

Both create missing parent directories, delete the temporary file when the body
raises, and give the new file the permissions of the file it replaces (or the
usual ``0o666 & ~umask`` for a new file).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_path", "atomic_write"]


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _copy_mode(tmp: Path, target: Path) -> None:
    try:
        if target.exists():
            mode = stat.S_IMODE(os.stat(target).st_mode)
        else:
            mode = 0o666 & ~_current_umask()
        os.chmod(tmp, mode)
    except OSError:  # pragma: no cover - exotic file systems
        pass


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable on POSIX; not possible on Windows.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write to; move it onto ``path`` on success.

    Parameters
    ----------
    path : str or PathLike
        The final file. Its parent directories are created if missing.
    durable : bool, default True
        ``fsync`` the file before the rename and the directory after it, so the
        new content survives a power cut, not only a crash of this process.

    Yields
    ------
    pathlib.Path
        An (empty, already existing) temporary file in the same directory,
        ending with the target's name, e.g. ``.tmp-k3j2-model.safetensors``.

    Notes
    -----
    If the body raises (or writes nothing and deletes the file), the temporary
    file is removed, the exception propagates, and ``path`` is left untouched.

    Examples
    --------
    >>> with atomic_path("out/x.npy") as tmp:        # doctest: +SKIP
    ...     np.save(tmp, array)
    """
    target = Path(path)
    if target.name in ("", ".", ".."):
        raise ValueError(f"cannot write to {str(path)!r}: it names a directory, not a file")
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    if target.is_dir():
        raise ValueError(f"cannot write to '{target}': it is an existing directory")
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=f"-{target.name}", dir=parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(
                f"the temporary file for '{target}' disappeared before it could be renamed"
            )
        _copy_mode(tmp, target)
        if durable:
            _fsync_file(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if durable:
        _fsync_dir(parent)


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str],
    mode: str = "wb",
    *,
    encoding: str | None = None,
    newline: str | None = None,
    durable: bool = True,
) -> Iterator[IO[Any]]:
    """Open a file for writing that appears at ``path`` only once it is complete.

    Parameters
    ----------
    path : str or PathLike
        The final file; parent directories are created if missing.
    mode : {"wb", "w", "wt"}, default "wb"
        Binary or text writing. Appending makes no sense for a fresh file and is
        refused.
    encoding : str, optional
        Text encoding, ``"utf-8"`` by default in text mode.
    newline : str, optional
        Passed to :func:`open` in text mode.
    durable : bool, default True
        See :func:`atomic_path`.

    Yields
    ------
    file object
        Write to it inside the ``with`` block; do not close it yourself.

    Examples
    --------
    >>> with atomic_write("model/config.json", "w") as fh:   # doctest: +SKIP
    ...     json.dump(config, fh)
    """
    if mode not in ("wb", "w", "wt"):
        raise ValueError(
            f"atomic_write supports mode 'wb' (binary) or 'w' (text), got {mode!r}; "
            "appending or reading cannot be atomic"
        )
    binary = "b" in mode
    if binary and (encoding is not None or newline is not None):
        raise ValueError("encoding and newline are only for text mode; use mode='w'")
    with atomic_path(path, durable=durable) as tmp:
        if binary:
            fh: IO[Any] = open(tmp, "wb")
        else:
            fh = open(tmp, "w", encoding=encoding or "utf-8", newline=newline)
        with fh:
            yield fh
