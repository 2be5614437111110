"""Checkpoint files: read them, or say which file is damaged and how.

``torch.load`` says little about a damaged file: an empty one gives
``EOFError: Ran out of input``, a text file ``UnpicklingError: invalid load
key`` (with ``weights_only=True``: ``KeyError: 101``), a truncated one an
internal miniz error. Since torch 1.6, ``torch.save`` writes a zip archive,
which ends in a central directory, so a truncated file is recognised without
reading it; older torch wrote a pickle (first byte ``0x80``). The checks here
look at the file first and name it in every error.
"""
import os.path as osp
import pickle
import zipfile
from pathlib import Path
from typing import Any, Optional, Union

import torch

#: the first bytes of a zip archive (``torch.save`` since torch 1.6)
ZIP_MAGIC = b'PK\x03\x04'
#: the first byte of a pickle of protocol >= 2 (``torch.save`` before 1.6)
PICKLE_START = b'\x80'
#: how many leading bytes an error shows
SHOWN_BYTES = 16


class UnreadableCheckpointError(ValueError):
    """A checkpoint file that cannot be read; the message names the file
    and says what is wrong with it."""


def checkpoint_file_problem(path: Union[str, Path]) -> Optional[str]:
    """What is wrong with the checkpoint file ``path``; None if nothing seen.

    Looks at the file without unpickling it: whether it exists, is empty,
    is a complete zip archive, or is none of the formats of ``torch.save``.
    """
    path = str(path)
    if not osp.isfile(path):
        return 'there is no such file'
    size = osp.getsize(path)
    if size == 0:
        return ('the file is empty (0 bytes): writing it was interrupted, or '
                'it was never written')
    with open(path, 'rb') as f:
        head = f.read(SHOWN_BYTES)
    if head.startswith(ZIP_MAGIC):
        if zipfile.is_zipfile(path):
            return None
        return (f'the file is truncated: a zip archive (as torch.save '
                f'writes) of {size} bytes without its end (central '
                'directory); writing or copying it was interrupted')
    if head.startswith(PICKLE_START):
        return None
    return ('it is not a PyTorch checkpoint: torch.save writes a zip archive '
            '(or, before torch 1.6, a pickle), but this file begins with '
            f'{head!r}')


def _damaged(exc: Exception) -> bool:
    """Whether a ``torch.load`` failure says the file's content is bad."""
    if isinstance(exc, (EOFError, pickle.UnpicklingError, zipfile.BadZipFile)):
        return 'Weights only load failed' not in str(exc)
    return isinstance(exc, RuntimeError) and any(
        text in str(exc)
        for text in ('PytorchStreamReader failed', 'Invalid magic number'))


def read_checkpoint(path: Union[str, Path],
                    map_location: Any = None,
                    weights_only: bool = True) -> Any:
    """``torch.load(path)``, with errors that name the file and its problem.

    Args:
        path: A local checkpoint file (``~`` is expanded).
        map_location: As for ``torch.load``.
        weights_only: As for ``torch.load``: False unpickles everything,
            only right for files you trust.

    Raises:
        FileNotFoundError: If there is no such file.
        UnreadableCheckpointError: If the file is empty, truncated, not in a
            format of ``torch.save``, or damaged inside.
    """
    path = osp.expanduser(str(path))
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: there is no such checkpoint file')
    problem = checkpoint_file_problem(path)
    if problem is not None:
        raise UnreadableCheckpointError(f'{path}: {problem}')
    try:
        return torch.load(
            path, map_location=map_location, weights_only=weights_only)
    except Exception as exc:
        if not _damaged(exc):
            raise
        first_line = str(exc).split('\n')[0]
        raise UnreadableCheckpointError(
            f'{path}: the file is damaged: torch.load fails with '
            f'{type(exc).__name__}: {first_line}') from exc
