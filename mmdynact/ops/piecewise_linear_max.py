"""Memory-lean ``y = max_k(a_k * x + b_k)``, the core of DY-ReLU.

DY-ReLU (Chen et al., "Dynamic ReLU", ECCV 2020) computes, per sample ``n`` and
channel ``c``, ``y = max_k(a[n, c, k] * x + b[n, c, k])`` with coefficients from
a hyper-function of the input. DY-ReLU-C also scales them per position by a
spatial attention ``pi >= 0``; since ``pi`` is positive it factors out of the
max: ``y = pi * max_k(a_k * x + b_k)``.

The straightforward implementation stacks the ``K`` pieces into a
``(..., K)`` tensor and reduces it with ``torch.max``, which keeps the stacked
tensor and the arg-max indices for backward (3-4x the input). Here backward
keeps only ``x`` and the per-(N, C) coefficients (and ``pi``) and recomputes
which piece wins.
"""
from typing import List, Optional

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .backend import fused_kernel


def _pieces(x: Tensor, a: Tensor, b: Tensor) -> List[Tensor]:
    """``a_k * x + b_k`` for every piece ``k``; ``x`` is ``(N, C, S)``."""
    # (x * a + b, not addcmul: inductor vectorises it under dynamic shapes)
    return [x * a[:, :, k:k + 1] + b[:, :, k:k + 1] for k in range(a.shape[-1])]


def _maximum(values: List[Tensor]) -> Tensor:
    best = values[0]
    for value in values[1:]:
        best = torch.maximum(best, value)
    return best


# The kernels work on ``(N, C, S)`` views (S = all positions): inductor fuses
# the per-(N, C) reductions of backward far better over one flat dimension.
@fused_kernel
def _forward(x: Tensor, a: Tensor, b: Tensor,
             pi: Optional[Tensor]) -> Tensor:
    x3 = x.flatten(2)
    y = _maximum(_pieces(x3, a, b))
    if pi is not None:
        y = y * pi.flatten(2)
    return y.to(x.dtype).view_as(x)


@fused_kernel
def _backward(x: Tensor, a: Tensor, b: Tensor, grad_y: Tensor,
              need_x: bool, need_coef: bool):
    """Gradients of ``max_k(a_k x + b_k)`` for ``x``, ``a`` and ``b``."""
    x3, grad = x.flatten(2), grad_y.flatten(2)
    values = _pieces(x3, a, b)
    best = _maximum(values)
    # the winning piece of every element (the first one on ties)
    chosen, taken = [], None
    for value in values:
        wins = value == best
        chosen.append(wins if taken is None else wins & ~taken)
        taken = chosen[-1] if taken is None else taken | chosen[-1]
    grad_x = grad_a = grad_b = None
    if need_x:
        slope = a[:, :, -1:]
        for k in range(a.shape[-1] - 2, -1, -1):
            slope = torch.where(chosen[k], a[:, :, k:k + 1], slope)
        grad_x = (grad * slope).to(x.dtype).view_as(x)
    if need_coef:
        # a shared over channels (DY-ReLU-A) sums over channels too
        dims = (1, 2) if a.shape[1] == 1 else (2, )
        grad_times_x = grad * x3
        grad_a = torch.stack([
            torch.where(wins, grad_times_x, 0).sum(dims, dtype=a.dtype)
            for wins in chosen
        ], -1).view_as(a)
        grad_b = torch.stack([
            torch.where(wins, grad, 0).sum(dims, dtype=b.dtype)
            for wins in chosen
        ], -1).view_as(b)
    return grad_x, grad_a, grad_b


@fused_kernel
def _grad_pi(x: Tensor, a: Tensor, b: Tensor, grad_y: Tensor,
             pi: Tensor) -> Tensor:
    """Gradient of ``pi * max_k(a_k x + b_k)`` for ``pi``."""
    best = _maximum(_pieces(x.flatten(2), a, b))
    grad_pi = (grad_y.flatten(2) * best).sum(1, keepdim=True)
    return grad_pi.to(pi.dtype).view_as(pi)


# Backward of the scaled form runs as two simple kernels (the gradient of pi,
# then the unscaled backward of pi * grad_y): inductor fuses one kernel with
# both reduction directions (channels, positions) far worse.
class _PiecewiseLinearMax(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x: Tensor, a: Tensor, b: Tensor,
                pi: Optional[Tensor]) -> Tensor:
        ctx.save_for_backward(x, a, b, pi)
        return _forward(x, a, b, pi)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y: Tensor):
        x, a, b, pi = ctx.saved_tensors
        need_x, need_a, need_b, need_pi = ctx.needs_input_grad
        grad_pi = None
        if pi is not None:
            if need_pi:
                grad_pi = _grad_pi(x, a, b, grad_y, pi)
            grad_y = grad_y * pi
        grad_x, grad_a, grad_b = _backward(x, a, b, grad_y, need_x, need_a
                                           or need_b)
        return grad_x, grad_a, grad_b, grad_pi


def piecewise_linear_max(x: Tensor,
                         a: Tensor,
                         b: Tensor,
                         pi: Optional[Tensor] = None) -> Tensor:
    """``y = [pi *] max_k(a_k * x + b_k)``, keeping only ``x, a, b, pi``.

    Args:
        x: Input ``(N, C, *)``.
        a: Slopes ``(N, C, K)``, or ``(N, 1, K)`` shared over channels.
        b: Intercepts, shaped like ``a``.
        pi: Optional non-negative per-position scale ``(N, 1, *)``.

    Returns:
        Tensor shaped and typed like ``x``.
    """
    return _PiecewiseLinearMax.apply(x, a, b, pi)
