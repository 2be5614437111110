"""Checks of a checkpoint the runner has just read, before it is used.

mmengine's ``Runner`` loads ``load_from`` non-strictly: a checkpoint of
another model only warns that the keys "do not match exactly", and
``tools/test.py`` then reports a randomly initialised model's metrics.
Resuming from a checkpoint without training state fails deep inside
``Runner.resume`` (``KeyError: 'epoch'``). The hooks here run in
``after_load_checkpoint`` (after hooks that edit the checkpoint, such as
``EMAHook``: priority ``LOWEST``) and stop with an error that names the file
and what it lacks.
"""
import dataclasses
import re
from collections import OrderedDict
from typing import Dict, List

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from torch import Tensor

from ..state_dict_diff import StateDictDiff

#: the prefix mmengine's Runner strips from checkpoint keys (DDP's)
WRAPPER_PREFIX = re.compile(r'^module\.')
#: a batch norm's step counter: torch fills it in when older checkpoints
#: lack it, so its absence is no gap
FILLED_IN_ON_LOAD = '.num_batches_tracked'
#: what ``Runner.resume`` reads unconditionally
TRAINING_STATE = ('state_dict', 'meta.epoch', 'meta.iter', 'message_hub')


class CheckpointMismatchError(ValueError):
    """A checkpoint that does not fit its use; the message names it."""


def model_state(checkpoint: dict) -> Dict[str, Tensor]:
    """The model tensors of ``checkpoint``, keyed as the Runner loads them."""
    state = checkpoint.get('state_dict', checkpoint)
    return OrderedDict(
        (WRAPPER_PREFIX.sub('', key), value) for key, value in state.items())


def missing_training_state(checkpoint) -> List[str]:
    """The entries of :data:`TRAINING_STATE` that ``checkpoint`` lacks."""
    if not isinstance(checkpoint, dict):
        return list(TRAINING_STATE)
    meta = checkpoint.get('meta')
    meta = meta if isinstance(meta, dict) else {}
    present = set(checkpoint) | {f'meta.{key}' for key in meta}
    return [entry for entry in TRAINING_STATE if entry not in present]


@HOOKS.register_module()
class CheckpointCoverageHook(Hook):
    """Stop unless the loaded checkpoint covers the whole model.

    Every tensor of the model must be in the checkpoint, with its shape;
    keys the model lacks are listed in the error, but alone are no failure.
    ``tools/test.py`` adds this hook unless given
    ``--allow-partial-checkpoint``.

    Args:
        checkpoint: The file, for the message.
        allow: What the user can do to load it partially anyway.
    """
    priority = 'LOWEST'

    def __init__(self,
                 checkpoint: str,
                 allow: str = 'remove CheckpointCoverageHook') -> None:
        self.checkpoint = checkpoint
        self.allow = allow

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        diff = StateDictDiff.between(
            model_state(checkpoint), model.state_dict())
        diff = dataclasses.replace(
            diff,
            missing=tuple(
                key for key in diff.missing
                if not key.endswith(FILLED_IN_ON_LOAD)))
        if diff.covers():
            return
        raise CheckpointMismatchError(
            f'{self.checkpoint} does not cover the model of this config '
            f'({type(model).__name__}):{diff.describe("checkpoint")}\nIs it '
            "a checkpoint of this config's model? To use it anyway, with "
            'the weights it lacks left as initialised, '
            f'{self.allow}.')


@HOOKS.register_module()
class TrainingStateCheckHook(Hook):
    """Stop unless the checkpoint to resume from holds a training state.

    That is what mmengine's ``CheckpointHook`` saves: the model, the
    ``meta`` counters ``epoch`` and ``iter``, and the message hub (plus the
    optimizer and schedulers). ``tools/train.py`` adds this hook when it
    resumes.

    Args:
        checkpoint: The file, for the message.
    """
    priority = 'LOWEST'

    def __init__(self, checkpoint: str) -> None:
        self.checkpoint = checkpoint

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        missing = missing_training_state(checkpoint)
        if not missing:
            return
        held = (', '.join(sorted(checkpoint)[:10]) if isinstance(
            checkpoint, dict) else type(checkpoint).__name__)
        raise CheckpointMismatchError(
            f'cannot resume from {self.checkpoint}: it has no '
            f'{", ".join(missing)}, so it is not a training checkpoint '
            f"(which mmengine's CheckpointHook writes: epoch_N.pth, "
            f'iter_N.pth); it holds: {held or "nothing"}. To start training '
            f'from its weights instead, drop --resume and add --cfg-options '
            f'load_from={self.checkpoint}')
