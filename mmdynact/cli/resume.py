"""Which checkpoint ``tools/train.py --resume`` (without a path) resumes.

mmengine reads the path in ``<work_dir>/last_checkpoint`` and resumes from
it, whatever it holds: an empty file makes it resume from ``''``, a path to a
removed or moved checkpoint fails to load. Here that path is used only if it
names a complete checkpoint; otherwise the newest complete ``epoch_N.pth`` /
``iter_N.pth`` of the work dir is taken, with a warning that says why.
"""
import logging
import os
import os.path as osp
import re
from typing import List, Optional

from mmengine.logging import print_log

from mmdynact.engine.checkpoint_files import checkpoint_file_problem
from mmdynact.engine.compat import LAST_CHECKPOINT

#: the names mmengine's CheckpointHook gives checkpoints (its filename_tmpl)
CHECKPOINT_NAME = re.compile(r'^(?:epoch|iter)_(\d+)\.pth$')


def complete_checkpoints(work_dir: str) -> List[str]:
    """The complete ``epoch_N.pth`` / ``iter_N.pth`` in ``work_dir``, oldest
    first (by N, then modification time)."""
    if not osp.isdir(work_dir):
        return []
    found = []
    for name in os.listdir(work_dir):
        match = CHECKPOINT_NAME.match(name)
        path = osp.join(work_dir, name)
        if match and checkpoint_file_problem(path) is None:
            found.append((int(match.group(1)), osp.getmtime(path), path))
    return [path for *_, path in sorted(found)]


def _recorded_checkpoint(record: str) -> str:
    """The path in the ``last_checkpoint`` file ``record``; '' if none."""
    if not osp.isfile(record):
        return ''
    with open(record) as f:
        return f.read().strip()


def checkpoint_to_resume(work_dir: str) -> Optional[str]:
    """The checkpoint to resume from in ``work_dir``; None if there is none.

    The one ``<work_dir>/last_checkpoint`` names, if it is complete;
    otherwise the newest complete checkpoint of the work dir, with a
    warning if ``last_checkpoint`` is there but empty or names a missing or
    incomplete file.
    """
    record = osp.join(work_dir, LAST_CHECKPOINT)
    recorded = _recorded_checkpoint(record)
    if recorded and checkpoint_file_problem(recorded) is None:
        return recorded
    found = complete_checkpoints(work_dir)
    newest = found[-1] if found else None
    instead = (f'resuming from the newest complete checkpoint there, {newest}'
               if found else 'training starts from the beginning')
    if not osp.exists(record):
        print_log(f'{record} does not exist; {instead}', logger='current')
    else:
        problem = (f'names {recorded}, but {checkpoint_file_problem(recorded)}'
                   if recorded else 'is empty')
        print_log(
            f'{record} {problem}; {instead}',
            logger='current',
            level=logging.WARNING)
    return newest
