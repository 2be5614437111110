"""Memory-lean autograd kernels of the activations, fused or eager."""
from .acon import acon
from .bounded_softmax import bounded_softmax
from .channel_projection import channel_projection
from .backend import (BACKENDS, FusedKernel, fused_kernel, get_backend,
                      set_backend, use_backend)
from .funnel_max import batch_statistics, funnel_max
from .piecewise_linear_max import piecewise_linear_max

__all__ = [
    'BACKENDS', 'FusedKernel', 'fused_kernel', 'get_backend', 'set_backend',
    'use_backend', 'acon', 'bounded_softmax', 'channel_projection', 'funnel_max', 'batch_statistics',
    'piecewise_linear_max'
]
