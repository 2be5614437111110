"""ACON ``y = (p1 - p2) x sigmoid(beta (p1 - p2) x) + p2 x``, memory-lean.

ACON-C (Ma et al., "Activate or Not: Learning Customized Activation",
CVPR 2021) with per-channel ``p1, p2`` and a switching factor ``beta`` (per
channel, or per sample and channel for Meta-ACON). ACON-A (``p1 = 1,
p2 = 0``) and ACON-B (``p1 = 1``) are special cases.

Backward keeps only ``x`` and the small parameters. With ``u = (p1 - p2)
x``, ``sg = sigmoid(beta u)`` and ``g_u = g (sg + beta u sg (1 - sg))``:

    grad_x = g_u (p1 - p2) + g p2,
    grad_p1 = sum g_u x,  grad_p2 = sum (g - g_u) x,
    grad_beta = sum g sg (1 - sg) u^2,

the sums over positions (and over samples for per-channel parameters). One
pass writes ``grad_x`` and the per-(n, c) sums; for Meta-ACON, whose
``beta`` comes from the pooled input, the sums come first and ``grad_x``
is written after the pooled gradient is known, in a second pass that folds
it in (:class:`~.pooling.FoldedInputGradient`).
"""
import math
from typing import List, Optional, Tuple

import torch
from torch import Tensor

from .backend import kernel_form, torch_kernel
from .grad_checks import check_no_double_backward
from .layout import acc_dtype, as_3d, from_3d, per_channel
from .pooling import FoldedInputGradient, pooled_gradient
from .triton_support import (acc_type, chunk_index, dense, kernel_input,
                             match_layout, programs_per_sample, row_program,
                             row_tile, tiling, tl, triton)

# ---------------------------------------------------------------- Triton


@triton.jit
def _parameter(ptr, n, c, C, c_ok, PER_CHANNEL: tl.constexpr,
               PER_SAMPLE: tl.constexpr, ACC: tl.constexpr):
    """A parameter's values for channels ``c`` of sample ``n``: shared by
    all, per channel, or per sample and channel."""
    if PER_SAMPLE:
        offsets = n * C + c
    elif PER_CHANNEL:
        offsets = c
    else:
        offsets = c * 0
    return tl.load(ptr + offsets, mask=c_ok, other=0).to(ACC)


@triton.jit
def _parameters(p1_ptr, p2_ptr, beta_ptr, n, c, C, c_ok,
                P1_PER_CHANNEL: tl.constexpr, P2_PER_CHANNEL: tl.constexpr,
                BETA_PER_SAMPLE: tl.constexpr, ACC: tl.constexpr):
    """``(p1 - p2, p2, beta)`` for channels ``c`` of sample ``n``."""
    p2 = _parameter(p2_ptr, n, c, C, c_ok, P2_PER_CHANNEL, False, ACC)
    dp = _parameter(p1_ptr, n, c, C, c_ok, P1_PER_CHANNEL, False, ACC) - p2
    beta = _parameter(beta_ptr, n, c, C, c_ok, True, BETA_PER_SAMPLE, ACC)
    return dp, p2, beta


@triton.jit(do_not_specialize=['C', 'S', 'S_CHUNK'])
def _forward_kernel(x_ptr, y_ptr, p1_ptr, p2_ptr, beta_ptr, C, S, S_CHUNK,
                    P1_PER_CHANNEL: tl.constexpr, P2_PER_CHANNEL: tl.constexpr,
                    BETA_PER_SAMPLE: tl.constexpr, BLOCK_C: tl.constexpr,
                    BLOCK_S: tl.constexpr, CHANNELS_LAST: tl.constexpr,
                    ACC: tl.constexpr):
    n, c, c_ok, split, sample = row_program(C, S, BLOCK_C)
    dp, p2, beta = _parameters(p1_ptr, p2_ptr, beta_ptr, n, c, C, c_ok,
                               P1_PER_CHANNEL, P2_PER_CHANNEL, BETA_PER_SAMPLE,
                               ACC)
    for start in range(split * S_CHUNK, (split + 1) * S_CHUNK, BLOCK_S):
        _, _, mask, offsets = row_tile(start, c, c_ok, C, S, sample, BLOCK_S,
                                       CHANNELS_LAST)
        x = tl.load(x_ptr + offsets, mask=mask, other=0).to(ACC)
        u = dp[:, None] * x
        y = u / (1.0 + tl.exp(-beta[:, None] * u)) + p2[:, None] * x
        tl.store(y_ptr + offsets, y, mask=mask)


@triton.jit(do_not_specialize=['C', 'S', 'S_CHUNK'])
def _backward_kernel(x_ptr, g_ptr, gx_ptr, p1_ptr, p2_ptr, beta_ptr,
                     partial_ptr, d_mean_ptr, C, S, S_CHUNK, inv_s,
                     P1_PER_CHANNEL: tl.constexpr,
                     P2_PER_CHANNEL: tl.constexpr,
                     BETA_PER_SAMPLE: tl.constexpr, REDUCE: tl.constexpr,
                     WRITE_GX: tl.constexpr, POOLED: tl.constexpr,
                     BLOCK_C: tl.constexpr, BLOCK_S: tl.constexpr,
                     CHANNELS_LAST: tl.constexpr, ACC: tl.constexpr):
    """Per-chunk sums for ``p1, p2, beta`` (``REDUCE``) and/or ``grad_x``
    (``WRITE_GX``, plus ``d_mean / S`` if ``POOLED``)."""
    n, c, c_ok, split, sample = row_program(C, S, BLOCK_C)
    dp, p2, beta = _parameters(p1_ptr, p2_ptr, beta_ptr, n, c, C, c_ok,
                               P1_PER_CHANNEL, P2_PER_CHANNEL, BETA_PER_SAMPLE,
                               ACC)
    pooled = tl.zeros([BLOCK_C], dtype=ACC)
    if POOLED:
        pooled = pooled_gradient(d_mean_ptr, n, c, C, c_ok, inv_s, ACC)
    sum_p1 = tl.zeros([BLOCK_C, BLOCK_S], dtype=ACC)
    sum_p2 = tl.zeros([BLOCK_C, BLOCK_S], dtype=ACC)
    sum_beta = tl.zeros([BLOCK_C, BLOCK_S], dtype=ACC)
    for start in range(split * S_CHUNK, (split + 1) * S_CHUNK, BLOCK_S):
        _, _, mask, offsets = row_tile(start, c, c_ok, C, S, sample, BLOCK_S,
                                       CHANNELS_LAST)
        x = tl.load(x_ptr + offsets, mask=mask, other=0).to(ACC)
        grad = tl.load(g_ptr + offsets, mask=mask, other=0).to(ACC)
        u = dp[:, None] * x
        sg = 1.0 / (1.0 + tl.exp(-beta[:, None] * u))
        dsg = sg * (1.0 - sg)
        grad_u = grad * (sg + beta[:, None] * u * dsg)
        if REDUCE:
            sum_p1 += grad_u * x
            sum_p2 += (grad - grad_u) * x
            sum_beta += grad * dsg * u * u
        if WRITE_GX:
            grad_x = grad_u * dp[:, None] + grad * p2[:, None]
            if POOLED:
                grad_x += pooled[:, None]
            tl.store(gx_ptr + offsets, grad_x, mask=mask)
    if REDUCE:
        base = chunk_index(n, c, C, split) * 3
        tl.store(partial_ptr + base, tl.sum(sum_p1, axis=1), mask=c_ok)
        tl.store(partial_ptr + base + 1, tl.sum(sum_p2, axis=1), mask=c_ok)
        tl.store(partial_ptr + base + 2, tl.sum(sum_beta, axis=1), mask=c_ok)


def _flags(x: Tensor, p1: Tensor, p2: Tensor, beta: Tensor) -> dict:
    return dict(
        P1_PER_CHANNEL=p1.numel() > 1,
        P2_PER_CHANNEL=p2.numel() > 1,
        BETA_PER_SAMPLE=beta.numel() > x.shape[1])


class _TritonKernels:
    """The passes as Triton kernels."""

    @staticmethod
    def forward(x: Tensor, p1: Tensor, p2: Tensor, beta: Tensor) -> Tensor:
        x, n, c, s, channels_last = kernel_input(x)
        tiles = tiling(c, s, channels_last, None)
        y = torch.empty_like(x)
        _forward_kernel[tiles.rows(n)](
            x,
            y,
            p1,
            p2,
            beta.contiguous(),
            c,
            s,
            tiles.s_chunk,
            BLOCK_C=tiles.block_c,
            BLOCK_S=tiles.block_s,
            CHANNELS_LAST=channels_last,
            ACC=acc_type(x.dtype),
            **_flags(x, p1, p2, beta))
        return y

    @staticmethod
    def backward(
            x: Tensor, grad_y: Tensor, p1: Tensor, p2: Tensor, beta: Tensor,
            write_gx: bool, needs: Tuple[bool, bool,
                                         bool], d_mean: Optional[Tensor]
    ) -> Tuple[Optional[Tensor], Optional[Tensor]]:
        """``(grad_x or None, per-(n, c) sums (N, C, 3) or None)``; the sums
        if any of ``p1, p2, beta`` ``needs`` one (all three: they share the
        pass)."""
        reduce = any(needs)
        x, n, c, s, channels_last = kernel_input(x)
        tiles = tiling(c, s, channels_last,
                       programs_per_sample(x.device, n) if reduce else None)
        gx = torch.empty_like(x) if write_gx else None
        partial = (
            x.new_empty((n, c, tiles.splits,
                         3), dtype=acc_dtype(x)) if reduce else None)
        _backward_kernel[tiles.rows(n)](
            x,
            dense(grad_y, channels_last),
            gx,
            p1,
            p2,
            beta.contiguous(),
            partial,
            None if d_mean is None else d_mean.contiguous(),
            c,
            s,
            tiles.s_chunk,
            1.0 / s,
            REDUCE=reduce,
            WRITE_GX=write_gx,
            POOLED=d_mean is not None,
            BLOCK_C=tiles.block_c,
            BLOCK_S=tiles.block_s,
            CHANNELS_LAST=channels_last,
            ACC=acc_type(x.dtype),
            **_flags(x, p1, p2, beta))
        sums = None
        if reduce:
            sums = partial[:, :, 0] if tiles.splits == 1 else partial.sum(2)
        return gx, sums


# ------------------------------------------------------------ torch form


def _against_3d(param: Tensor, channel_dim: int, dtype: torch.dtype) -> Tensor:
    """A ``(1 or N, 1 or C, 1, ...)`` parameter against the 3D view."""
    return per_channel(
        param.reshape(param.shape[0], -1).to(dtype), channel_dim)


@torch_kernel
def _torch_forward(x: Tensor, p1: Tensor, p2: Tensor, beta: Tensor) -> Tensor:
    dtype = acc_dtype(x)
    x3, channel_dim = as_3d(x)
    x3 = x3.to(dtype)
    p2_ = _against_3d(p2, channel_dim, dtype)
    u = (_against_3d(p1, channel_dim, dtype) - p2_) * x3
    y = u * torch.sigmoid(_against_3d(beta, channel_dim, dtype) * u) + p2_ * x3
    return from_3d(y.to(x.dtype), x, channel_dim)


@torch_kernel
def _torch_backward(x: Tensor, grad_y: Tensor, p1: Tensor, p2: Tensor,
                    beta: Tensor, write_gx: bool,
                    needs: Tuple[bool, bool, bool], d_mean: Optional[Tensor]):
    dtype = acc_dtype(x)
    x3, channel_dim = as_3d(x)
    x3 = x3.to(dtype)
    grad = as_3d(grad_y)[0].to(dtype)
    p2_ = _against_3d(p2, channel_dim, dtype)
    dp = _against_3d(p1, channel_dim, dtype) - p2_
    beta_ = _against_3d(beta, channel_dim, dtype)
    u = dp * x3
    sg = torch.sigmoid(beta_ * u)
    dsg = sg * (1 - sg)
    grad_u = grad * (sg + beta_ * u * dsg)
    grad_x = sums = None
    if write_gx:
        grad_x = grad_u * dp + grad * p2_
        if d_mean is not None:
            grad_x = grad_x + per_channel(
                d_mean.to(dtype) / x3.shape[3 - channel_dim], channel_dim)
        grad_x = from_3d(grad_x.to(x.dtype), x, channel_dim)
    if any(needs):  # only the sums of parameters that need a gradient
        spatial_dim = 3 - channel_dim
        terms = (lambda: grad_u * x3, lambda:
                 (grad - grad_u) * x3, lambda: grad * dsg * u * u)
        sums = torch.stack([
            term().sum(spatial_dim) if need else x3.new_zeros(
                ()).expand(x3.shape[0], x3.shape[channel_dim])
            for term, need in zip(terms, needs)
        ], -1)
    return grad_x, sums


class _TorchKernels:
    """The passes in plain PyTorch, ``compiled`` or ``eager``."""

    def __init__(self, form: str) -> None:
        self.form = form

    def forward(self, x: Tensor, p1: Tensor, p2: Tensor,
                beta: Tensor) -> Tensor:
        return _torch_forward(self.form, x, p1, p2, beta)

    def backward(self, x: Tensor, grad_y: Tensor, p1: Tensor, p2: Tensor,
                 beta: Tensor, write_gx: bool, needs: Tuple[bool, bool, bool],
                 d_mean: Optional[Tensor]):
        return _torch_backward(self.form, x, grad_y, p1, p2, beta, write_gx,
                               needs, d_mean)


_KERNELS = {
    'triton': _TritonKernels(),
    'compiled': _TorchKernels('compiled'),
    'eager': _TorchKernels('eager'),
}


def _sum_to(sums: Tensor, param: Tensor) -> Tensor:
    """Per-(n, c) sums ``(N, C)`` added up to ``param``'s shape."""
    dims = [dim for dim in (0, 1) if param.shape[dim] == 1]
    if dims:
        sums = sums.sum(dims, keepdim=True)
    return sums.reshape(param.shape).to(param.dtype)


def _parameter_grads(sums: Optional[Tensor], p1: Tensor, p2: Tensor,
                     beta: Tensor, needs: tuple) -> list:
    return [
        _sum_to(sums[..., i], param) if need else None
        for i, (param, need) in enumerate(zip((p1, p2, beta), needs))
    ]


# ------------------------------------------------------------- autograd


class AconFunction(torch.autograd.Function):
    """ACON-C ``(p1 - p2) x sigmoid(beta (p1 - p2) x) + p2 x``."""

    @staticmethod
    def count_flops(shapes: List[Tuple[int, ...]]) -> int:
        """5 per element: ``(p1 - p2) x``, ``beta *``, sigmoid, product,
        ``+ p2 x``."""
        return 5 * math.prod(shapes[0])

    @staticmethod
    def forward(ctx, x: Tensor, p1: Tensor, p2: Tensor, beta: Tensor,
                fold: Optional[FoldedInputGradient], layer: str) -> Tensor:
        kernels = _KERNELS[kernel_form(x.device)]
        ctx.save_for_backward(x, p1, p2, beta)
        ctx.fold, ctx.layer, ctx.kernels = fold, layer, kernels
        return kernels.forward(x, p1, p2, beta)

    @staticmethod
    def backward(ctx, grad_y: Tensor):
        check_no_double_backward(ctx.layer)
        x, p1, p2, beta = ctx.saved_tensors
        grad_y = match_layout(grad_y, x)
        kernels, fold = ctx.kernels, ctx.fold
        need_x, *need_params = ctx.needs_input_grad[:4]
        folded = need_x and fold is not None
        grad_x, sums = kernels.backward(x, grad_y, p1, p2, beta,
                                        need_x and not folded,
                                        tuple(need_params), None)
        if folded:
            fold.put(lambda d_mean, d_z, weight, need_x, need_weight:
                     (kernels.backward(x, grad_y, p1, p2, beta, True,
                                       (False, ) * 3, d_mean)[0], None))
        return (grad_x, *_parameter_grads(sums, p1, p2, beta, need_params),
                None, None)


# ------------------------------------------- custom ops (torch.compile)


@torch.library.custom_op('mmdynact::acon', mutates_args=())
def _acon_op(x: Tensor, p1: Tensor, p2: Tensor, beta: Tensor) -> Tensor:
    return _KERNELS[kernel_form(x.device)].forward(x, p1, p2, beta)


@_acon_op.register_fake
def _(x, p1, p2, beta):
    return torch.empty_like(x)


@torch.library.custom_op('mmdynact::acon_backward', mutates_args=())
def _acon_backward_op(x: Tensor, grad_y: Tensor, p1: Tensor, p2: Tensor,
                      beta: Tensor) -> Tuple[Tensor, Tensor]:
    return _KERNELS[kernel_form(x.device)].backward(x, match_layout(grad_y, x),
                                                    p1, p2, beta, True,
                                                    (True, ) * 3, None)


@_acon_backward_op.register_fake
def _(x, grad_y, p1, p2, beta):
    return torch.empty_like(x), x.new_empty(
        x.shape[:2] + (3, ), dtype=acc_dtype(x))


def _setup_op_context(ctx, inputs, output):
    ctx.save_for_backward(*inputs)


def _op_backward(ctx, grad_y):
    check_no_double_backward('ACON (acon)')
    x, p1, p2, beta = ctx.saved_tensors
    grad_x, sums = _acon_backward_op(x, grad_y, p1, p2, beta)
    return (grad_x, *_parameter_grads(sums, p1, p2, beta, (True, ) * 3))


_acon_op.register_autograd(_op_backward, setup_context=_setup_op_context)


def acon(x: Tensor,
         p1: Tensor,
         p2: Tensor,
         beta: Tensor,
         fold: Optional[FoldedInputGradient] = None,
         layer: str = 'acon') -> Tensor:
    """ACON-C ``(p1 - p2) x sigmoid(beta (p1 - p2) x) + p2 x``.

    Args:
        x: Input ``(N, C, H, W)``.
        p1, p2: ``(1, C, 1, 1)`` per channel, or ``(1, 1, 1, 1)``.
        beta: ``(1, C, 1, 1)`` per channel, or ``(N, C, 1, 1)`` per sample
            (Meta-ACON).
        fold: For a ``beta`` made from the pooled input, shared with that
            pooling (see :class:`~.pooling.FoldedInputGradient`).
        layer: Name of the calling layer, for error messages.

    Returns:
        Tensor shaped, typed and laid out like ``x``.
    """
    if torch.compiler.is_compiling():
        return _acon_op(x, p1, p2, beta)
    return AconFunction.apply(x, p1, p2, beta, fold, layer)
