"""Atomic file writes: write to a temporary file beside the target, then rename.

A reader never sees a half-written file: the target either keeps its previous
content (the writer raised, the process died) or holds the complete new content.
The temporary file lives in the target's directory (``os.replace`` is only atomic
within one file system) and is named ``.tmp-<random>-<target name>``, so that
writers that look at the extension (``numpy.save`` appends ``.npy``, pandas infers
compression from ``.gz``) see the target's extension.

Entry points:

``atomic_path(path)``
    yields a temporary *path*; hand it to any writer (``np.save``,
    ``DataFrame.to_parquet``, ``safetensors.torch.save_file``, ``fig.savefig``).
``atomic_write(path, mode="wb")``
    yields an open *file object* (binary or text).
``AtomicGroup``
    several files replaced together: ``atomic_path(p, group=g)`` stages a file, and
    the group renames all of them when its ``with`` block ends (all or nothing: a
    failed rename puts the previous files back).
``directory_lock(path)``
    an exclusive lock on a directory (``fcntl.flock`` on ``.lstmae.lock`` inside it),
    so that two processes never write one model or checkpoint directory at once.

They create missing parent directories (and remove the ones they created when the
write fails), delete the temporary file when the body raises, and give the new file
the permissions of the file it replaces (or the usual ``0o666 & ~umask`` for a new
file). A failed write raises `WriteError` (an ``OSError``), whose message names the
file and the cause: ``cannot write model/model.safetensors: No space left on device``.
"""

from __future__ import annotations

import contextlib
import errno as errno_codes
import os
import re
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["AtomicGroup", "DirectoryBusyError", "WriteError", "atomic_path", "atomic_write", "directory_lock",
           "make_dirs", "remove_made_dirs"]

LOCK_FILE = ".lstmae.lock"
LOCK_TIMEOUT = 60.0  # seconds a writer waits for another one (LSTMAE_LOCK_TIMEOUT overrides)

# errors of a write as such (a body's other OSErrors, e.g. reading an input, pass through unchanged)
_WRITE_ERRNOS = {errno_codes.ENOSPC, errno_codes.EDQUOT, errno_codes.EROFS, errno_codes.EACCES, errno_codes.EPERM,
                 errno_codes.EFBIG, errno_codes.EIO, errno_codes.EMFILE, errno_codes.ENFILE, errno_codes.ENOMEM}


class WriteError(OSError):
    """A file or directory could not be written; ``str()`` names it and the cause, in one line."""

    def __init__(self, path: str | os.PathLike, cause: BaseException, what: str = "write") -> None:
        code = getattr(cause, "errno", None)
        reason = getattr(cause, "strerror", None) or (os.strerror(code) if code else None) or str(cause) or \
            type(cause).__name__
        super().__init__(code, reason, os.fspath(path))
        self.what = what

    def __str__(self) -> str:
        return f"cannot {self.what} {self.filename}: {self.strerror}"


class DirectoryBusyError(OSError):
    """Another process holds a directory's write lock and did not release it in time."""

    def __init__(self, directory: str | os.PathLike, waited: float) -> None:
        super().__init__(errno_codes.EWOULDBLOCK, "locked", os.fspath(directory))
        self.waited = waited

    def __str__(self) -> str:
        return (f"another process is writing {self.filename} (it holds {Path(self.filename) / LOCK_FILE}; "
                f"waited {self.waited:.1f} s): let it finish, or write elsewhere.")


def as_os_error(exc: BaseException) -> OSError | None:
    """The OSError behind `exc`: itself, or the one a ``SafetensorError`` describes (safetensors reports
    a full disk as ``SafetensorError: ... (os error 28)`` or ``... Os { code: 28, ... }``, not as an OSError)."""
    if isinstance(exc, OSError):
        return exc
    if type(exc).__name__ == "SafetensorError":
        found = re.search(r"(?:os error |code: )(\d+)", str(exc))
        if found:
            code = int(found.group(1))
            return OSError(code, os.strerror(code))
        if "Io" in str(exc):
            return OSError(errno_codes.EIO, str(exc))
    return None


def _write_error(path: Path, exc: BaseException, body: bool) -> BaseException:
    """`exc` as a WriteError naming `path` when it is a failed write; else `exc` itself."""
    if isinstance(exc, (WriteError, DirectoryBusyError)):
        return exc
    os_error = as_os_error(exc)
    if os_error is None:
        return exc
    if body and isinstance(exc, OSError) and exc.errno not in _WRITE_ERRNOS:
        return exc  # e.g. the writer could not read something: not a write failure
    return WriteError(path, os_error)


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


# ------------------------------------------------------------------------------ directories
def make_dirs(directory: str | os.PathLike) -> list[Path]:
    """``mkdir -p directory``; returns the directories it created, deepest first (for `remove_made_dirs`).

    A failure raises `WriteError` naming the directory that could not be created.
    """
    directory = Path(directory)
    missing = []
    d = directory
    while not d.exists() and d != d.parent:
        missing.append(d)
        d = d.parent
    made: list[Path] = []
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            continue  # made by someone else meanwhile: not ours to remove
        except OSError as exc:
            remove_made_dirs(made[::-1])
            raise WriteError(d, exc, "create directory") from None
        made.append(d)
    return made[::-1]


def remove_made_dirs(made: list[Path]) -> None:
    """Remove the directories `make_dirs` created (deepest first), where they are empty."""
    for d in made:
        with contextlib.suppress(OSError):
            d.rmdir()


# ------------------------------------------------------------------------------ groups
class AtomicGroup:
    """Several files replaced together.

    ``with AtomicGroup() as group:`` then ``with atomic_path(p, group=group) as tmp:`` for
    each file: each is written and ``fsync``-ed under a temporary name; when the group's
    block ends they are renamed onto their targets in the order they were staged. If the
    block raises nothing is renamed; if a rename fails the targets already replaced get
    their previous content back (hard links made before the first rename), so the
    directory holds the previous version whole. Only a process killed between two renames
    leaves a mix (the model and checkpoint formats detect it by checksums).
    """

    def __init__(self, durable: bool = True) -> None:
        self.durable = durable
        self.staged: list[tuple[Path, Path]] = []  # (temporary file, target)
        self.made: list[Path] = []  # directories created for the staged files, deepest first

    def __enter__(self) -> "AtomicGroup":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None:
            self._discard()
            return False
        try:
            self.commit()
        except BaseException:
            self._discard()
            raise
        return False

    def _discard(self) -> None:
        for tmp, _ in self.staged:
            with contextlib.suppress(OSError):
                tmp.unlink()
        self.staged = []
        remove_made_dirs(self.made)

    def commit(self) -> None:
        backups: list[tuple[Path, Path | None]] = []  # (target, hard link to its previous content or None)
        try:
            for _, target in self.staged:
                backup = None
                if target.exists():
                    backup = target.with_name(f".bak-{os.getpid()}-{target.name}")
                    with contextlib.suppress(FileNotFoundError):
                        backup.unlink()
                    try:
                        os.link(target, backup)
                    except OSError:
                        backup = None  # no hard links here: no rollback for this file
                backups.append((target, backup))
            done: list[Path] = []
            try:
                for tmp, target in self.staged:
                    try:
                        os.replace(tmp, target)
                    except OSError as exc:
                        raise WriteError(target, exc) from None
                    done.append(target)
            except BaseException:
                previous = dict(backups)
                for target in reversed(done):  # put the previous version back
                    with contextlib.suppress(OSError):
                        if previous.get(target) is not None:
                            os.replace(previous[target], target)
                        else:
                            target.unlink()
                raise
        finally:
            for _, backup in backups:
                if backup is not None:
                    with contextlib.suppress(OSError):
                        backup.unlink()
        if self.durable:
            for parent in {target.parent for _, target in self.staged}:
                _fsync_dir(parent)
        self.staged = []


# ------------------------------------------------------------------------------ single files
@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, durable: bool = True, group: AtomicGroup | None = None) -> Iterator[Path]:
    """Yield a temporary path to write to; move it onto ``path`` on success.

    Parameters
    ----------
    path : str or PathLike
        The final file. Its parent directories are created if missing (and removed
        again if the write fails).
    durable : bool, default True
        ``fsync`` the file before the rename and the directory after it, so the
        new content survives a power cut, not only a crash of this process.
    group : AtomicGroup, optional
        Stage the file in `group`, which renames it with the others when its block ends.

    Yields
    ------
    pathlib.Path
        An (empty, already existing) temporary file in the same directory,
        ending with the target's name, e.g. ``.tmp-k3j2-model.safetensors``.

    Raises
    ------
    WriteError
        (an OSError) when the file cannot be written: no space left, a read-only file
        system, no permission; it names `path` and the cause.

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
    made = make_dirs(parent)
    if group is not None:
        group.made.extend(made)
        made = []
    if target.is_dir():
        remove_made_dirs(made)
        raise ValueError(f"cannot write to '{target}': it is an existing directory")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=f"-{target.name}", dir=parent)
    except OSError as exc:
        remove_made_dirs(made)
        raise WriteError(target, exc) from None
    os.close(fd)
    tmp = Path(tmp_name)
    in_body = True
    try:
        yield tmp
        in_body = False
        if not tmp.exists():
            raise FileNotFoundError(
                f"the temporary file for '{target}' disappeared before it could be renamed"
            )
        _copy_mode(tmp, target)
        if durable or group is not None:
            _fsync_file(tmp)
        if group is not None:
            group.staged.append((tmp, target))
        else:
            os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        remove_made_dirs(made)
        translated = _write_error(target, exc, body=in_body)
        if translated is not exc:
            raise translated from None
        raise
    if durable and group is None:
        _fsync_dir(parent)


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str],
    mode: str = "wb",
    *,
    encoding: str | None = None,
    newline: str | None = None,
    durable: bool = True,
    group: AtomicGroup | None = None,
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
    group : AtomicGroup, optional
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
    with atomic_path(path, durable=durable, group=group) as tmp:
        if binary:
            fh: IO[Any] = open(tmp, "wb")
        else:
            fh = open(tmp, "w", encoding=encoding or "utf-8", newline=newline)
        with fh:
            yield fh


# ------------------------------------------------------------------------------ locks
_held = threading.local()  # directories this thread has locked (re-entrant within a thread)


def lock_timeout() -> float:
    """`LOCK_TIMEOUT`, or the ``LSTMAE_LOCK_TIMEOUT`` environment variable (seconds) when set."""
    value = os.environ.get("LSTMAE_LOCK_TIMEOUT")
    if value:
        with contextlib.suppress(ValueError):
            return max(0.0, float(value))
    return LOCK_TIMEOUT


@contextlib.contextmanager
def directory_lock(directory: str | os.PathLike, timeout: float | None = None) -> Iterator[Path]:
    """Hold the exclusive write lock of `directory` (which must exist) inside the block.

    The lock is ``fcntl.flock`` on ``directory/.lstmae.lock``; a second writer waits for
    it up to `timeout` seconds (default `lock_timeout()`), then raises
    `DirectoryBusyError`. The lock file is removed when the lock is released (while it
    is held, so no other writer can be holding a lock on it), so a finished write
    leaves no trace. The kernel releases the lock of a process that dies. Readers take
    no lock: every file is replaced by an atomic rename. Without ``fcntl`` (Windows) the
    block runs unlocked.
    """
    directory = Path(directory)
    key = os.path.realpath(directory)
    held = getattr(_held, "dirs", None)
    if held is None:
        held = _held.dirs = set()
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        fcntl = None
    if key in held or fcntl is None:
        yield directory
        return
    timeout = lock_timeout() if timeout is None else float(timeout)
    path = directory / LOCK_FILE
    start = time.monotonic()
    delay = 0.002
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError as exc:
            raise WriteError(directory, exc, "write in") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno_codes.EWOULDBLOCK, errno_codes.EAGAIN, errno_codes.EACCES):
                raise WriteError(directory, exc, "lock") from None
            waited = time.monotonic() - start
            if waited >= timeout:
                raise DirectoryBusyError(directory, waited) from None
            time.sleep(min(delay, max(timeout - waited, 0.0)))
            delay = min(delay * 2, 0.1)
            continue
        try:  # the file we locked must still be the lock file (the last holder removes it)
            current = os.stat(path)
            mine = os.fstat(fd)
            if (current.st_ino, current.st_dev) == (mine.st_ino, mine.st_dev):
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    held.add(key)
    try:
        yield directory
    finally:
        held.discard(key)
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)
