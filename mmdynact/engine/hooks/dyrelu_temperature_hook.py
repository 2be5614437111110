"""Anneal the spatial-attention temperature of DY-ReLU-C during training."""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from mmdynact.models.activations import DyReLUC


@HOOKS.register_module()
class DyReLUTemperatureHook(Hook):
    """Set ``temperature`` of every ``DyReLUC`` in the model as training goes.

    The DY-ReLU paper trains DY-ReLU-C with a large softmax temperature at
    first (a flat spatial attention) and lowers it to 1. The temperature
    goes linearly from ``start`` to ``end`` over the first ``anneal``
    iterations (``by_epoch=False``) or epochs (``by_epoch=True``), then stays
    at ``end``. It is set from the runner's counters before each iteration,
    so a resumed run continues where it stopped, and it is saved with the
    model (a buffer), so testing a checkpoint uses the trained value.

    Example::

        custom_hooks = [dict(type='DyReLUTemperatureHook', start=10.,
                             end=1., anneal=10, by_epoch=True)]

    Args:
        start: Temperature at the first iteration.
        end: Temperature after annealing.
        anneal: Length of the annealing, in iterations or epochs.
        by_epoch: Count ``anneal`` in epochs (and change the temperature
            once per epoch) instead of iterations.
    """

    priority = 'NORMAL'

    def __init__(self,
                 start: float = 10.0,
                 end: float = 1.0,
                 anneal: int = 10,
                 by_epoch: bool = True) -> None:
        if not (start > 0 and end > 0):
            raise ValueError('DyReLUTemperatureHook: start and end must be '
                             f'> 0, got start={start}, end={end}')
        if anneal < 0:
            raise ValueError('DyReLUTemperatureHook: anneal must be >= 0, '
                             f'got {anneal}')
        self.start = start
        self.end = end
        self.anneal = anneal
        self.by_epoch = by_epoch

    def temperature_at(self, progress: int) -> float:
        """The temperature after ``progress`` iterations or epochs."""
        if progress >= self.anneal:
            return self.end
        return self.start + (self.end - self.start) * progress / self.anneal

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        self._layers = [m for m in model.modules() if isinstance(m, DyReLUC)]
        if not self._layers:
            raise ValueError(
                'DyReLUTemperatureHook: the model has no DyReLUC layer; '
                'remove the hook from custom_hooks or use DyReLUC')

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch: Optional[dict] = None) -> None:
        progress = runner.epoch if self.by_epoch else runner.iter
        temperature = self.temperature_at(progress)
        for layer in self._layers:
            layer.temperature = temperature
