"""A RUN step's files, made in its user namespace, owned again by the ids seen inside it.

In a user namespace the step's root is host uid ``first`` (and uid N is ``first + N``), so
the files it writes land in the upper directory with those host ids. A layer records the
ids the container saw (root is 0 in the tar, as in every image), and the stored layer
directory keeps them too: later steps and containers see it through idmapped mounts,
which would shift it a second time.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path


def to_container_ids(tree: Path, first: int, count: int) -> None:
    """Shift every owner in ``tree`` (itself included) from ``first..first+count-1`` back to
    ``0..count-1``. Others stay: what host root made there (WORKDIR's directories, overlayfs's
    whiteouts) is root's already."""
    for dirpath, dirnames, filenames in os.walk(tree):
        if dirpath == str(tree):
            _shift(dirpath, first, count)
        for name in dirnames + filenames:
            _shift(os.path.join(dirpath, name), first, count)


def _shift(path: str, first: int, count: int) -> None:
    st = os.lstat(path)
    uid, gid = _back(st.st_uid, first, count), _back(st.st_gid, first, count)
    if (uid, gid) == (st.st_uid, st.st_gid):
        return  # a hard link seen again, or host root's
    os.lchown(path, uid, gid)
    if not stat.S_ISLNK(st.st_mode) and st.st_mode & (stat.S_ISUID | stat.S_ISGID):
        os.chmod(path, stat.S_IMODE(st.st_mode))  # chown cleared the setuid and setgid bits


def _back(host_id: int, first: int, count: int) -> int:
    return host_id - first if first <= host_id < first + count else host_id
