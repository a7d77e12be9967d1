"""Folders written whole or not at all: a run folder, a site.

A folder is written into a hidden sibling ``.<name>.<host>.<pid>.<random>.partial`` and renamed into place;
the folder it replaces is first renamed to ``.<name>.<host>.<pid>.<random>.old``, then removed. A writer that
is killed on the way leaves one of them behind; the host and process id in their names let the next writer of
the same folder tell those leftovers from the folders of a writer still at work, and remove them.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

__all__ = ["staged_folder", "write_atomically"]

#: The random part tempfile.mkdtemp puts in a name: 8 of ``[a-z0-9_]``.
_RANDOM = r"[a-z0-9_]{8}"
_KIND = r"\.(?:partial|old)"
#: Any folder name of ours: ``.<name>.<host>.<pid>.<random>.partial`` or ``.old``. Host, pid and random hold
#: no dot, so the name is whatever comes before the last four fields.
_OURS = re.compile(rf"\.(?P<name>.+)\.(?P<host>[A-Za-z0-9-]+)\.(?P<pid>[0-9]+)\.{_RANDOM}{_KIND}", re.DOTALL)
#: Folders of earlier layerlens versions, ``.<name>.<random>.partial`` or ``.old``, name no writer: they are
#: removed only once nobody has touched them for a day, as no save takes that long.
_UNSIGNED_AGE = 24 * 3600.0
#: Errors of a rename onto a folder that is there (POSIX: not empty; Windows: exists).
_TAKEN = (errno.ENOTEMPTY, errno.EEXIST)
#: Renames tried when other saves of the same target keep putting their folders there in between.
_SWAP_ATTEMPTS = 10
#: Bytes in a file name on the common file systems (ext4, APFS, NTFS in UTF-16 units).
_LONGEST_NAME = 255


@contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """A fresh folder beside ``target`` to write into, which replaces ``target`` when the block succeeds.

    On any failure the fresh folder is removed and ``target`` is left as it was. An earlier ``target``
    is removed only once the new one is in place. Before anything else, the staging and retired folders
    that killed writers of ``target`` on this host left behind are removed (see :func:`_left_behind`).

    Parameters
    ----------
    target : Path
        The folder to write; its parent is made if missing.

    Yields
    ------
    Path
        The empty staging folder, ``.<name>.<host>.<pid>.<random>.partial`` beside ``target``.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(target)
    staging = _fresh_folder(target, "partial")
    try:
        yield staging
        staging.chmod(0o755)
        _swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap_into_place(staging: Path, target: Path) -> None:
    """Rename ``staging`` to ``target``; an earlier folder there is removed only once the new one is in place.

    Another save of the same target may put its folder there between our moving the earlier one aside and our
    rename. The rename then fails for the place being taken, and that folder is moved aside in its turn: the
    last rename wins, and every save succeeds.
    """
    for attempt in range(_SWAP_ATTEMPTS):
        retired = _retire(target)
        try:
            staging.rename(target)
        except BaseException as err:
            if retired is not None:
                _put_back(retired, target)
            if isinstance(err, OSError) and err.errno in _TAKEN and attempt + 1 < _SWAP_ATTEMPTS:
                continue
            raise
        if retired is not None:
            shutil.rmtree(retired, ignore_errors=True)
        return


def _retire(target: Path) -> Path | None:
    """Move the folder at ``target`` aside to a fresh ``.old`` name and return that; None when there is none."""
    if not target.exists():
        return None
    # A fresh, unused name for the old folder, so no folder of the user's is ever taken for it.
    retired = _fresh_folder(target, "old")
    retired.rmdir()
    try:
        target.rename(retired)
    except FileNotFoundError:  # another save of the same target moved it aside first
        return None
    return retired


def _put_back(retired: Path, target: Path) -> None:
    """Rename ``retired`` back to ``target``, unless another save's newer folder has taken the place."""
    try:
        retired.rename(target)
    except OSError as err:
        if err.errno not in _TAKEN:
            raise
        shutil.rmtree(retired, ignore_errors=True)


def _fresh_folder(target: Path, kind: str) -> Path:
    """A new empty folder ``.<name>.<host>.<pid>.<random>.<kind>`` beside ``target``."""
    prefix = f".{target.name}.{_host()}.{os.getpid()}."
    if len(os.fsencode(f"{prefix}{'x' * 8}.{kind}")) > _LONGEST_NAME:
        # No room to sign a long name: unsigned, as earlier versions wrote it, it is cleaned up after a day.
        prefix = f".{target.name}."
    return Path(tempfile.mkdtemp(prefix=prefix, suffix=f".{kind}", dir=target.parent))


def _host() -> str:
    """This machine's name as written in folder names: only letters, digits and ``-`` (no dot, our separator)."""
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:63] or "localhost"


def _remove_leftovers(target: Path) -> None:
    """Remove the folders beside ``target`` that :func:`_left_behind` finds; never fail a save for it."""
    host = _host()
    try:
        with os.scandir(target.parent) as entries:
            gone = [entry.path for entry in entries if _left_behind(entry, target.name, host)]
    except OSError:
        return
    for path in gone:
        # Another writer may be removing the same folder, or a file in it may not be ours to delete.
        shutil.rmtree(path, ignore_errors=True)


def _left_behind(entry: os.DirEntry, name: str, host: str) -> bool:
    """True for a staging or retired folder of target ``name`` whose writer is surely gone.

    That is a folder (not a file, not a link) named ``.<name>.<host>.<pid>.<random>.partial`` or ``.old``
    by a process of this host that no longer runs, or ``.<name>.<random>.partial`` or ``.old`` (earlier
    layerlens versions, no writer named) untouched for a day. Folders of other hosts, of live processes, and
    names that do not parse are kept: their writer may still be at work.
    """
    signed = _OURS.fullmatch(entry.name)
    if signed is not None and signed["name"] == name:
        return _writer_gone(signed, host) and _is_folder(entry)
    if re.fullmatch(rf"\.{re.escape(name)}\.{_RANDOM}{_KIND}", entry.name, re.DOTALL) is None:
        return False
    # An unsigned name of ``name`` is also a signed one of a target named ``name`` minus its last two
    # fields (``.run.h.12.<random>.partial``): that writer must be gone too.
    return (signed is None or _writer_gone(signed, host)) and _is_folder(entry) and _untouched_for(entry)


def _writer_gone(signed: re.Match, host: str) -> bool:
    """True when the folder named by ``signed`` was written on ``host`` by a process that no longer runs."""
    return signed["host"] == host and not _alive(int(signed["pid"]))


def _alive(pid: int) -> bool:
    """Whether process ``pid`` may be running; True whenever that cannot be known."""
    if pid <= 0 or os.name == "nt":
        # pid 0 and negative ones signal process groups; on Windows os.kill ends the process it is given.
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # PermissionError: it runs as another user
        return True
    return True


def _is_folder(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _untouched_for(entry: os.DirEntry, seconds: float = _UNSIGNED_AGE) -> bool:
    try:
        return time.time() - entry.stat(follow_symlinks=False).st_mtime > seconds
    except OSError:
        return False


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all: into a hidden temporary file beside it, renamed into place."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary)
        raise
