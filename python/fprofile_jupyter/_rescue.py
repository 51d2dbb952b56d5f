"""An outfile removed while its recording ran (its directory deleted, the file unlinked or
replaced): the recorder still holds the file open, so everything it wrote is still there. At the
stop, before the recorder closes it, :func:`grab` opens it again (through ``/proc/self/fd``, which
reaches a file that has no name any more); after the stop :func:`keep` copies it where it can be
kept, the outfile's path again when its directory still exists and nothing took the name,
otherwise a new file in the temporary directory, and the stop goes on from there (a streamed
``.fpt`` is then rewritten compactly there, children merged). ``_session.Session`` calls these.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import Optional, Tuple

__all__ = ["identify", "grab", "keep", "Gone"]

#: The outfile as the recorder opened it: its absolute path then (the program may change
#: directory), its device and inode.
FileId = Tuple[str, int, int]


def identify(path: Optional[str]) -> Optional[FileId]:
    """The outfile just opened at ``path``, None if there is none."""
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (os.path.abspath(path), st.st_dev, st.st_ino)


class Gone:
    """The outfile's path no longer names the file the recorder writes: ``fd``, a read-only
    descriptor of that file (None when it could not be found among this process's files)."""

    __slots__ = ("path", "fd", "why")

    def __init__(self, path: str, fd: Optional[int], why: str) -> None:
        self.path = path
        self.fd = fd
        self.why = why

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def grab(path: Optional[str], ident: Optional[FileId]) -> Optional[Gone]:
    """None while the outfile's path still names the file ``ident``; else a :class:`Gone`
    holding the file open for reading (``path``: the outfile, None for none). Call it before the
    recorder stops (it closes its descriptor then)."""
    if path is None or ident is None:
        return None
    where, ident_id = ident[0], ident[1:]
    try:
        st = os.stat(where)
        if (st.st_dev, st.st_ino) == ident_id:
            return None
        why = "another file took its name"
    except OSError:
        d = os.path.dirname(where)
        why = f"its directory {d} is gone" if not os.path.isdir(d) else "it was deleted"
    fd = None
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        names = []
    for name in names:
        link = f"/proc/self/fd/{name}"
        try:
            st = os.stat(link)
            if (st.st_dev, st.st_ino) != ident_id:
                continue
            fd = os.open(link, os.O_RDONLY | os.O_CLOEXEC)
            break
        except OSError:
            continue
    return Gone(where, fd, why)


def keep(gone: Gone) -> str:
    """Copies the grabbed file to the outfile's path when its directory exists and the name is
    free, else to a new file in the temporary directory; returns where. ``OSError`` when it
    cannot be copied (or was not found); closes the descriptor either way."""
    if gone.fd is None:
        raise OSError("the recorder's file could not be found among this process's open files")
    try:
        target: Optional[str] = None
        out = -1
        if os.path.isdir(os.path.dirname(os.path.abspath(gone.path))):
            try:
                out = os.open(gone.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
                target = gone.path
            except OSError:
                out = -1
        if target is None:
            stem, ext = os.path.splitext(os.path.basename(gone.path))
            if stem.endswith(".perfetto") or stem.endswith(".speedscope"):
                stem, ext = os.path.splitext(stem)[0], os.path.splitext(stem)[1] + ext
            out, target = tempfile.mkstemp(prefix=f"fprofile-kept-{stem}-", suffix=ext)
        try:
            with os.fdopen(out, "wb") as dst, os.fdopen(os.dup(gone.fd), "rb") as src:
                src.seek(0)
                shutil.copyfileobj(src, dst, 1 << 20)
        except BaseException:
            try:
                os.unlink(target)
            except OSError:
                pass
            raise
        return target
    finally:
        gone.close()
