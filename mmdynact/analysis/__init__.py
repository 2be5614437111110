"""Complexity analysis that counts mmdynact's activation layers."""
from .complexity import (Complexity, activation_flop_handles, complexity,
                         count, flop_analyzer, relu_twin, summary,
                         unhandled_python_ops)
from .from_config import DEFAULT_SHAPES, TensorForward, model_for_analysis

__all__ = [
    'activation_flop_handles', 'Complexity', 'complexity', 'count',
    'flop_analyzer', 'relu_twin', 'summary', 'unhandled_python_ops',
    'DEFAULT_SHAPES', 'TensorForward', 'model_for_analysis'
]
