"""Write local files atomically, so a crash never leaves a truncated one.

mmengine 0.10's ``LocalBackend`` (through which ``save_checkpoint``,
``mmengine.dump`` and the result dumps write local files) opens the target
and writes into it: a job killed while saving leaves a truncated checkpoint
under the real name, and ``--resume`` then fails on it. The backend here
writes a temporary file next to the target, flushes it to disk and renames it
over the target, so the target is always either the old or the new file.
"""
import os
import os.path as osp
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend, register_backend


def write_atomically(data: bytes, path: Union[str, Path]) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path = str(path)
    directory, name = osp.split(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    temporary = osp.join(directory, f'.{name}.{os.getpid()}.tmp')
    try:
        with open(temporary, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    finally:
        if osp.exists(temporary):
            os.remove(temporary)


class AtomicLocalBackend(LocalBackend):
    """``LocalBackend`` whose ``put`` and ``put_text`` are atomic."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        write_atomically(obj, filepath)

    def put_text(self,
                 obj: str,
                 filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        write_atomically(obj.encode(encoding), filepath)


def write_local_files_atomically() -> None:
    """Make mmengine write local files with :class:`AtomicLocalBackend`."""
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
