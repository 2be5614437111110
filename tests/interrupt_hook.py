"""A hook that kills its own process, for the interrupted-run test."""
import os
import signal

from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class KillAfterEpochHook(Hook):
    """SIGKILL the training process once epoch ``epoch`` (1-based) is saved.

    It runs after every other hook (the CheckpointHook included), so the
    process dies as a crash or a pre-empted job would: no clean-up at all.
    """

    priority = 'LOWEST'

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def after_train_epoch(self, runner) -> None:
        if runner.epoch + 1 == self.epoch:
            os.kill(os.getpid(), signal.SIGKILL)
