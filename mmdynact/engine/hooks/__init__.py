from .checkpoint_checks import (CheckpointCoverageHook,
                                CheckpointMismatchError,
                                TrainingStateCheckHook)
from .dyrelu_temperature_hook import DyReLUTemperatureHook

__all__ = [
    'CheckpointCoverageHook', 'CheckpointMismatchError',
    'TrainingStateCheckHook', 'DyReLUTemperatureHook'
]
