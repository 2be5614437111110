"""Complexity analysis that counts mmdynact's activation layers."""
from .complexity import (ACTIVATION_FLOP_HANDLES, Complexity, complexity,
                         count, flop_analyzer, relu_twin, summary,
                         unhandled_python_ops)
from .from_config import DEFAULT_SHAPES, TensorForward, model_for_analysis

__all__ = [
    'ACTIVATION_FLOP_HANDLES', 'Complexity', 'complexity', 'count',
    'flop_analyzer', 'relu_twin', 'summary', 'unhandled_python_ops',
    'DEFAULT_SHAPES', 'TensorForward', 'model_for_analysis'
]
