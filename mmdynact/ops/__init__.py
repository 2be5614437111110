"""Memory-lean kernels of the activations: Triton, fused or eager.

One module per kernel family (:mod:`.piecewise_linear_max` for DY-ReLU,
:mod:`.acon`, :mod:`.funnel` for FReLU), each with its Triton kernels, its
torch form and the single autograd node of a layer call; the shared passes
(:mod:`.pooling`, :mod:`.spatial_attention`), the small networks run
inside the nodes (:mod:`.hyper_network`); :mod:`.backend` chooses the form.
"""
from .acon import Acon, acon, acon_op
from .backend import (BACKENDS, TorchKernel, get_backend, kernel_form,
                      set_backend, torch_kernel, use_backend)
from .funnel import FunnelNorm, funnel_max, funnel_max_op
from .hyper_network import HyperNetwork
from .piecewise_linear_max import (Pieces, SpatialAttention, dynamic_relu,
                                   piecewise_linear_max_op)
from .spatial_attention import bounded_softmax

__all__ = [
    'BACKENDS', 'TorchKernel', 'get_backend', 'kernel_form', 'set_backend',
    'torch_kernel', 'use_backend', 'Acon', 'acon', 'acon_op', 'FunnelNorm',
    'funnel_max', 'funnel_max_op', 'HyperNetwork', 'Pieces',
    'SpatialAttention', 'dynamic_relu', 'piecewise_linear_max_op',
    'bounded_softmax'
]
