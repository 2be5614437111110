"""Straightforward implementations of the activations, for checks and timing.

Each function computes a layer's formula literally with plain PyTorch ops and
autograd, using the layer's own parameters and hyper-functions: DY-ReLU stacks
its ``K`` pieces and takes ``torch.max`` (with per-position coefficients for
DY-ReLU-C), ACON writes out the sigmoid expression, FReLU applies its batch
norm module and ``torch.maximum``. Tests compare mmdynact's memory-lean
kernels against these; the benchmark times both side by side.
"""
from typing import Callable, Dict, Type

import torch
from torch import Tensor, nn

from mmdynact.models.activations import (AconA, AconB, AconC, DyReLUA,
                                         DyReLUB, DyReLUC, FReLU, MetaAconC)


def _stacked_max(x: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """``max_k(a_k x + b_k)``, ``a``/``b`` broadcastable to ``x.shape + (K,)``."""
    return (x.unsqueeze(-1) * a + b).max(dim=-1).values


def _per_channel(coef: Tensor, ndim: int) -> Tensor:
    """``(N, C', K)`` -> ``(N, C', 1, ..., 1, K)``."""
    return coef.reshape(coef.shape[:2] + (1, ) * (ndim - 2) + coef.shape[2:])


def dyrelu_ab(layer: nn.Module, x: Tensor) -> Tensor:
    a, b = layer.coefficients(x)
    return _stacked_max(x, _per_channel(a, x.dim()), _per_channel(b, x.dim()))


def dyrelu_c(layer: DyReLUC, x: Tensor) -> Tensor:
    """Per-position coefficients ``pi_hw * a_c^k``, ``pi_hw * b_c^k``."""
    a, b = layer.coefficients(x)
    pi = layer.spatial_attention(x).unsqueeze(-1)
    return _stacked_max(x, _per_channel(a, 4) * pi, _per_channel(b, 4) * pi)


def acon_c_formula(x: Tensor, p1: Tensor, p2: Tensor, beta: Tensor) -> Tensor:
    return (p1 - p2) * x * torch.sigmoid(beta * (p1 - p2) * x) + p2 * x


def frelu(layer: FReLU, x: Tensor) -> Tensor:
    return torch.maximum(x, layer.funnel_norm(layer.funnel_conv(x)))


REFERENCES: Dict[Type[nn.Module], Callable[[nn.Module, Tensor], Tensor]] = {
    DyReLUA: dyrelu_ab,
    DyReLUB: dyrelu_ab,
    DyReLUC: dyrelu_c,
    FReLU: frelu,
    AconA: lambda m, x: x * torch.sigmoid(m.beta * x),
    AconB: lambda m, x: acon_c_formula(x, 1, m.p, m.beta),
    AconC: lambda m, x: acon_c_formula(x, m.p1, m.p2, m.beta),
    MetaAconC: lambda m, x: acon_c_formula(x, m.p1, m.p2,
                                           m.switching_factor(x)),
}


def reference_forward(layer: nn.Module, x: Tensor) -> Tensor:
    """The layer's output by its plain formula (see the module docstring)."""
    return REFERENCES[type(layer)](layer, x)
