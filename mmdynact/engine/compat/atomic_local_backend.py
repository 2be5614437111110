"""Write local files atomically, so a crash never leaves a truncated one.

mmengine 0.10's ``LocalBackend`` (through which ``save_checkpoint``,
``mmengine.dump`` and the result dumps write local files) opens the target
and writes into it: a job killed while saving leaves a truncated checkpoint
under the real name, and ``--resume`` then fails on it. The backend here
writes a temporary file next to the target, flushes it to disk and renames it
over the target, so the target is always either the old or the new file.
A process killed while writing leaves its temporary file,
``.<name>.<pid>.tmp``; :func:`remove_stale_temporary_files` removes those.
"""
import os
import os.path as osp
import re
from pathlib import Path
from typing import List, Union

from mmengine.fileio import LocalBackend, register_backend

#: the temporary files of :func:`write_atomically`; group 1: the writer's pid
TEMPORARY_FILE = re.compile(r'^\..+\.(\d+)\.tmp$')


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


def _running_here(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    return True


def remove_stale_temporary_files(directory: Union[str, Path]) -> List[str]:
    """Remove what killed writers left in ``directory``; the removed paths.

    Removes the temporary files of :func:`write_atomically` whose process no
    longer runs on this machine (a half-written checkpoint can be as large as
    a whole one). Run it where no other machine is writing into
    ``directory``, e.g. when a training run starts in its work dir.
    """
    directory = str(directory)
    if not osp.isdir(directory):
        return []
    removed = []
    for name in sorted(os.listdir(directory)):
        match = TEMPORARY_FILE.match(name)
        path = osp.join(directory, name)
        if match and osp.isfile(path) and not _running_here(
                int(match.group(1))):
            try:
                os.remove(path)
            except FileNotFoundError:  # another process was quicker
                continue
            removed.append(path)
    return removed


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
