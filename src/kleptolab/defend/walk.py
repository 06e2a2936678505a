"""Walk a tree and read its files safely for the scanner.

* Directories are walked with ``os.scandir`` in name order; symlinks are not
  followed (a symlink given on the command line is); an unreadable directory
  is a warning, like an unreadable file.
* Only regular files are read: FIFOs, sockets and devices (``/dev/null``)
  are skipped with a warning, and a file is opened ``O_NONBLOCK`` and checked
  with ``fstat`` so that one swapped for a FIFO cannot block the scan.
* Files are *read*, never memory-mapped: a file that shrinks while it is
  mapped raises SIGBUS on access, which kills the process ("Bus error", exit
  135).  A short read is a warning and the bytes that were read are scanned.
  Files above ``whole_limit`` are read in overlapping windows.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = ["FileRef", "Window", "read_windows", "walk"]

MiB = 1 << 20
WHOLE_LIMIT = 512 * MiB
WINDOW = 256 * MiB
OVERLAP = 1 * MiB

_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


@dataclass(frozen=True)
class FileRef:
    """A regular file found by :func:`walk` and its size at that time."""

    path: str
    size: int


@dataclass(frozen=True)
class Window:
    """``data`` read from ``offset`` of a file (``offset`` 0 and whole for most files)."""

    offset: int
    data: bytes


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def _skip(path: str, mode: int) -> str:
    return f"{path}: skipped, {_kind(mode)} is not a regular file"


def _walk_dir(top: str, warnings: list[str]) -> Iterator[FileRef]:
    stack = [top]
    while stack:
        directory = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            warnings.append(f"{directory}: cannot read directory ({exc.strerror or exc})")
            continue
        subdirs: list[str] = []
        for entry in entries:
            try:
                if entry.is_symlink():
                    continue
                if entry.is_dir(follow_symlinks=False):
                    subdirs.append(entry.path)
                    continue
                st = entry.stat(follow_symlinks=False)
            except OSError as exc:
                warnings.append(f"{entry.path}: cannot read ({exc.strerror or exc})")
                continue
            if stat.S_ISREG(st.st_mode):
                yield FileRef(entry.path, st.st_size)
            else:
                warnings.append(_skip(entry.path, st.st_mode))
        stack.extend(reversed(subdirs))


def walk(paths: Iterable[str], warnings: list[str]) -> Iterator[FileRef]:
    """Regular files under ``paths`` in a stable order; everything else becomes a warning."""
    for path in paths:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            warnings.append(f"{path}: no such file or directory")
            continue
        except OSError as exc:
            warnings.append(f"{path}: cannot read ({exc.strerror or exc})")
            continue
        if stat.S_ISDIR(st.st_mode):
            yield from _walk_dir(path, warnings)
        elif stat.S_ISREG(st.st_mode):
            yield FileRef(path, st.st_size)
        else:
            warnings.append(_skip(path, st.st_mode))


def _read(fd: int, want: int, offset: int) -> bytes:
    """Up to ``want`` bytes at ``offset``; fewer only when the file ends (shrank) first."""
    data = os.pread(fd, want, offset)
    if len(data) in (0, want):
        return data
    pieces = [data]
    got = len(data)
    while got < want:
        more = os.pread(fd, want - got, offset + got)
        if not more:
            break
        pieces.append(more)
        got += len(more)
    return b"".join(pieces)


def read_windows(
    ref: FileRef,
    warnings: list[str],
    *,
    whole_limit: int = WHOLE_LIMIT,
    window: int = WINDOW,
    overlap: int = OVERLAP,
) -> Iterator[Window]:
    """The bytes of ``ref`` (one window, or overlapping ones past ``whole_limit``).

    Raises ``OSError`` when the file cannot be opened; a file that is not
    regular any more, or shrank, gives a warning.
    """
    fd = os.open(ref.path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            warnings.append(_skip(ref.path, st.st_mode))
            return
        size = min(ref.size, st.st_size)
        if size < ref.size:
            warnings.append(
                f"{ref.path}: file shrank while being read; scanned {size} of {ref.size} bytes"
            )
        step = size if size <= whole_limit else window - overlap
        offset = 0
        while offset < size:
            want = min(size - offset, size if step == size else window)
            buf = _read(fd, want, offset)
            got = len(buf)
            if got < want:
                warnings.append(
                    f"{ref.path}: file shrank while being read; scanned "
                    f"{offset + got} of {ref.size} bytes"
                )
                if buf:
                    yield Window(offset, buf)
                return
            yield Window(offset, buf)
            if offset + want >= size:
                return
            offset += step
    finally:
        os.close(fd)
