"""Memory-lean autograd kernels of the activations: Triton, fused or eager.

One module per kernel family, each with its Triton kernels, its torch form
and its autograd function side by side; :mod:`.backend` chooses the form.
"""
from .acon import acon
from .backend import (BACKENDS, TorchKernel, get_backend, kernel_form,
                      set_backend, torch_kernel, use_backend)
from .funnel import funnel_max
from .piecewise_linear_max import piecewise_linear_max
from .pooling import (FoldedInputGradient, folded_input_gradient, spatial_mean,
                      spatial_mean_projection)
from .spatial_attention import bounded_softmax

__all__ = [
    'BACKENDS', 'TorchKernel', 'get_backend', 'kernel_form', 'set_backend',
    'torch_kernel', 'use_backend', 'acon', 'funnel_max',
    'piecewise_linear_max', 'FoldedInputGradient', 'folded_input_gradient',
    'spatial_mean', 'spatial_mean_projection', 'bounded_softmax'
]
