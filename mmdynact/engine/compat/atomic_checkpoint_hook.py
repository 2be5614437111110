"""Write the work dir's ``last_checkpoint`` file atomically.

After saving a checkpoint, mmengine 0.10.7's ``CheckpointHook`` writes its
path into ``<work_dir>/last_checkpoint`` with a plain ``open(..., 'w')``, at
the end of ``_save_checkpoint_with_step``: a job killed at that moment leaves
the file empty, and ``--resume`` without a path then has nothing to go by.
:class:`AtomicCheckpointHook` lets that write land in a scratch folder and
writes the same path into the work dir with :func:`write_atomically`
(temporary file, fsync, rename).
"""
import os.path as osp
import tempfile

from mmengine.config import Config
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS

from .atomic_local_backend import write_atomically

#: the file in the work dir that names the latest checkpoint
LAST_CHECKPOINT = 'last_checkpoint'


class _RunnerWithWorkDir:
    """A runner seen with another ``work_dir``; all else is the runner's."""

    def __init__(self, runner, work_dir: str) -> None:
        self._runner = runner
        self.work_dir = work_dir

    def __getattr__(self, name: str):
        return getattr(self._runner, name)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook``; ``last_checkpoint`` written atomically.

    Everything else (intervals, ``max_keep_ckpts``, best checkpoints, the
    checkpoints themselves) is mmengine's.
    """

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        if not is_main_process():  # mmengine writes no last_checkpoint
            super()._save_checkpoint_with_step(runner, step, meta)
            return
        with tempfile.TemporaryDirectory(prefix='mmdynact-') as scratch:
            super()._save_checkpoint_with_step(
                _RunnerWithWorkDir(runner, scratch), step, meta)
        write_atomically(self.last_ckpt.encode(),
                         osp.join(runner.work_dir, LAST_CHECKPOINT))


def write_last_checkpoint_atomically(cfg: Config) -> None:
    """Make the config's ``CheckpointHook`` an :class:`AtomicCheckpointHook`.

    A checkpoint hook of another type is left as it is.
    """
    hook = (cfg.get('default_hooks') or {}).get('checkpoint')
    if isinstance(hook, dict) and hook.get('type') == 'CheckpointHook':
        hook['type'] = 'AtomicCheckpointHook'
