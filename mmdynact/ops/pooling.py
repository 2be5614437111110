"""Global context of an input: its spatial mean, and a 1x1 projection.

DY-ReLU and Meta-ACON compute their coefficients from the global average
pool ``mean[n, c] = sum_s x[n, c, s] / S``; DY-ReLU-C also projects the
input to one channel per position, ``z[n, s] = sum_c w_c x[n, c, s] + b``
(a 1x1 convolution), for its spatial attention. Both come from one read of
``x`` here.

**Folded input gradient.** The layer's output ``y = f(x, g(mean(x)))``
needs, for ``x``, the sum of the direct term ``df/dx`` and the pooled term
``d_mean / S`` (plus ``d_z w_c`` for the projection). Autograd would write
the direct term in one full-size pass and add the pooled one in another.
Instead, the consumer (the DY-ReLU or ACON kernel) computes only its
per-channel sums in its backward and leaves a *writer* in a
:class:`FoldedInputGradient`; the pooling backward, which autograd runs
after the small hyper-function's backward has produced ``d_mean``, calls it
to write the whole ``grad_x`` in a single pass.
"""
import math
from typing import Callable, List, Optional, Tuple

import torch
from torch import Tensor

from .backend import kernel_form, torch_kernel
from .grad_checks import check_no_double_backward
from .layout import acc_dtype, as_3d
from .triton_support import (acc_type, chunk_index, kernel_input,
                             programs_per_sample, row_program, row_tile,
                             spatial_size, tile_offsets, tiling, tl, triton)

#: ``writer(d_mean, d_z, weight, need_x, need_weight) -> (grad_x,
#: grad_weight)``, see :class:`FoldedInputGradient`
Writer = Callable[[Tensor, Optional[Tensor], Optional[Tensor], bool, bool],
                  Tuple[Optional[Tensor], Optional[Tensor]]]


class FoldedInputGradient:
    """Hands the writing of ``grad_x`` from a consumer to the pooling.

    Created by the layer when ``x`` needs a gradient and passed to both the
    pooling and the consuming kernel. In backward the consumer returns no
    gradient for ``x`` and :meth:`put` s a writer; the pooling :meth:`take`
    s it (once per backward) and writes the full gradient.
    """

    __slots__ = ('_writer', )

    def __init__(self) -> None:
        self._writer: Optional[Writer] = None

    def put(self, writer: Writer) -> None:
        self._writer = writer

    def take(self) -> Optional[Writer]:
        writer, self._writer = self._writer, None
        return writer


def folded_input_gradient(x: Tensor) -> Optional[FoldedInputGradient]:
    """A :class:`FoldedInputGradient` if autograd will want ``grad_x``
    (never while ``torch.compile`` traces: the custom ops do not fold)."""
    if (torch.is_grad_enabled() and x.requires_grad
            and not torch.compiler.is_compiling()):
        return FoldedInputGradient()
    return None


# ---------------------------------------------------------------- Triton


@triton.jit
def pooled_gradient(d_mean_ptr, n, c, C, c_ok, inv_s, ACC: tl.constexpr):
    """The pooled term ``d_mean[n, c] / S`` of ``grad_x``."""
    return tl.load(d_mean_ptr + n * C + c, mask=c_ok, other=0).to(ACC) * inv_s


@triton.jit(do_not_specialize=['C', 'S', 'S_CHUNK'])
def _mean_kernel(x_ptr, out_ptr, C, S, S_CHUNK, inv_s, BLOCK_C: tl.constexpr,
                 BLOCK_S: tl.constexpr, CHANNELS_LAST: tl.constexpr,
                 ACC: tl.constexpr):
    """Row kernel: ``out[n, c, split] = sum over the chunk / S``."""
    n, c, c_ok, split, sample = row_program(C, S, BLOCK_C)
    total = tl.zeros([BLOCK_C, BLOCK_S], dtype=ACC)
    for start in range(split * S_CHUNK, (split + 1) * S_CHUNK, BLOCK_S):
        _, _, mask, offsets = row_tile(start, c, c_ok, C, S, sample, BLOCK_S,
                                       CHANNELS_LAST)
        total += tl.load(x_ptr + offsets, mask=mask, other=0).to(ACC)
    tl.store(
        out_ptr + chunk_index(n, c, C, split),
        tl.sum(total, axis=1) * inv_s,
        mask=c_ok)


@triton.jit(do_not_specialize=['C', 'S'])
def _mean_projection_kernel(x_ptr, w_ptr, b_ptr, mean_ptr, z_ptr, C, S, inv_s,
                            BLOCK_C: tl.constexpr, BLOCK_S: tl.constexpr,
                            CHANNELS_LAST: tl.constexpr,
                            HAS_BIAS: tl.constexpr, ACC: tl.constexpr):
    """Column kernel: ``z[n, s]`` complete, ``mean[n, c, s_block]``."""
    n = tl.program_id(0)
    block = tl.program_id(1)
    s = block * BLOCK_S + tl.arange(0, BLOCK_S)
    s_ok = s < S
    sample = x_ptr + n.to(tl.int64) * C * S
    z = tl.zeros([BLOCK_S], dtype=ACC)
    for start in range(0, C, BLOCK_C):
        c = start + tl.arange(0, BLOCK_C)
        c_ok = c < C
        x = tl.load(
            sample + tile_offsets(c, s, C, S, CHANNELS_LAST),
            mask=c_ok[:, None] & s_ok[None, :],
            other=0).to(ACC)
        w = tl.load(w_ptr + c, mask=c_ok, other=0).to(ACC)
        z += tl.sum(x * w[:, None], axis=0)
        tl.store(
            mean_ptr + (n * C + c) * tl.num_programs(1) + block,
            tl.sum(x, axis=1) * inv_s,
            mask=c_ok)
    if HAS_BIAS:
        z += tl.load(b_ptr).to(ACC)
    tl.store(z_ptr + n * S + s, z, mask=s_ok)


def _sum_partials(partial: Tensor) -> Tensor:
    """``(N, C, parts)`` -> ``(N, C)``."""
    return partial[..., 0] if partial.shape[-1] == 1 else partial.sum(-1)


def _triton_mean(x: Tensor) -> Tensor:
    x, n, c, s, channels_last = kernel_input(x)
    tiles = tiling(c, s, channels_last, programs_per_sample(x.device, n))
    partial = x.new_empty((n, c, tiles.splits), dtype=acc_dtype(x))
    _mean_kernel[tiles.rows(n)](
        x,
        partial,
        c,
        s,
        tiles.s_chunk,
        1.0 / s,
        BLOCK_C=tiles.block_c,
        BLOCK_S=tiles.block_s,
        CHANNELS_LAST=channels_last,
        ACC=acc_type(x.dtype))
    return _sum_partials(partial)


def _triton_mean_projection(x: Tensor, weight: Tensor,
                            bias: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
    x, n, c, s, channels_last = kernel_input(x)
    tiles = tiling(c, s, channels_last, None)
    partial = x.new_empty((n, c, tiles.splits), dtype=acc_dtype(x))
    z = x.new_empty(
        (n, 1) + x.shape[2:], dtype=torch.promote_types(x.dtype, weight.dtype))
    _mean_projection_kernel[tiles.columns(n)](
        x,
        weight,
        bias,
        partial,
        z,
        c,
        s,
        1.0 / s,
        BLOCK_C=tiles.block_c,
        BLOCK_S=tiles.block_s,
        CHANNELS_LAST=channels_last,
        HAS_BIAS=bias is not None,
        ACC=acc_type(x.dtype))
    return _sum_partials(partial), z


# ------------------------------------------------------------ torch form


@torch_kernel
def _torch_mean(x: Tensor) -> Tensor:
    x3, channel_dim = as_3d(x)
    return x3.sum(
        3 - channel_dim, dtype=acc_dtype(x)) / x3.shape[3 - channel_dim]


@torch_kernel
def _torch_mean_projection(x: Tensor, weight: Tensor,
                           bias: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
    x3, channel_dim = as_3d(x)
    spatial_dim = 3 - channel_dim
    dtype = torch.promote_types(x.dtype, weight.dtype)
    mean = x3.sum(spatial_dim, dtype=acc_dtype(x)) / x3.shape[spatial_dim]
    w = weight.reshape(-1).to(dtype)
    w = w[:, None] if channel_dim == 1 else w[None, :]
    z = (x3.to(dtype) * w).sum(channel_dim)
    if bias is not None:
        z = z + bias.to(dtype)
    return mean, z.view((x.shape[0], 1) + x.shape[2:])


def mean_backward(x: Tensor, d_mean: Tensor) -> Tensor:
    """``grad_x = d_mean / S`` at every position (no fold)."""
    shape = d_mean.shape + (1, ) * (x.dim() - 2)
    return (d_mean / spatial_size(x)).view(shape).expand_as(x).to(x.dtype)


def projection_backward(x: Tensor, d_z: Tensor,
                        weight: Tensor) -> Tuple[Tensor, Tensor]:
    """``(d_z w_c, sum_{n, s} d_z x)`` of ``z = sum_c w_c x_c``."""
    w = weight.reshape(1, -1, *(1, ) * (x.dim() - 2))
    grad_weight = (d_z * x).sum(
        (0, ) + tuple(range(2, x.dim())), dtype=acc_dtype(x))
    return d_z * w, grad_weight.view_as(weight).to(weight.dtype)


# ------------------------------------------------------------- autograd


def _input_gradient(ctx, d_mean: Tensor, d_z: Optional[Tensor]):
    """``(grad_x, grad_weight)`` through the fold, or the plain formula."""
    x, weight = ctx.saved_tensors
    need_x, need_weight = ctx.needs_input_grad[:2]
    writer = ctx.fold.take() if ctx.fold is not None else None
    if writer is not None:
        return writer(d_mean, d_z, weight, need_x, need_weight)
    grad_x = mean_backward(x, d_mean) if need_x else None
    grad_weight = None
    if d_z is not None:
        grad_z_x, grad_weight = projection_backward(x, d_z, weight)
        if need_x:
            grad_x = grad_x + grad_z_x.to(x.dtype)
    return grad_x, grad_weight


def _mean(x: Tensor) -> Tensor:
    form = kernel_form(x.device)
    return _triton_mean(x) if form == 'triton' else _torch_mean(form, x)


def _mean_projection(x: Tensor, weight: Tensor,
                     bias: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
    form = kernel_form(x.device)
    if form == 'triton':
        return _triton_mean_projection(x, weight, bias)
    return _torch_mean_projection(form, x, weight, bias)


class SpatialMeanFunction(torch.autograd.Function):
    """``mean[n, c]``, with the folded input gradient."""

    @staticmethod
    def count_flops(shapes: List[Tuple[int, ...]]) -> int:
        """One addition per element of the input."""
        return math.prod(shapes[0])

    @staticmethod
    def forward(ctx, x: Tensor, fold: Optional[FoldedInputGradient],
                layer: str) -> Tensor:
        ctx.save_for_backward(x, None)
        ctx.fold, ctx.layer = fold, layer
        return _mean(x)

    @staticmethod
    def backward(ctx, d_mean: Tensor):
        check_no_double_backward(ctx.layer)
        grad_x, _ = _input_gradient(ctx, d_mean, None)
        return grad_x, None, None


class SpatialMeanProjectionFunction(torch.autograd.Function):
    """``(mean[n, c], z[n, s])``, with the folded input gradient."""

    @staticmethod
    def count_flops(shapes: List[Tuple[int, ...]]) -> int:
        """Per element of the input: an addition for the mean, a
        multiply-add for the projection."""
        return 2 * math.prod(shapes[0])

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Optional[Tensor],
                fold: Optional[FoldedInputGradient], layer: str):
        ctx.save_for_backward(x, weight)
        ctx.fold, ctx.layer = fold, layer
        ctx.bias_shape = None if bias is None else bias.shape
        return _mean_projection(x, weight, bias)

    @staticmethod
    def backward(ctx, d_mean: Tensor, d_z: Tensor):
        check_no_double_backward(ctx.layer)
        grad_x, grad_weight = _input_gradient(ctx, d_mean, d_z)
        grad_bias = (
            d_z.sum().reshape(ctx.bias_shape)
            if ctx.needs_input_grad[2] else None)
        return grad_x, grad_weight, grad_bias, None, None


# ------------------------------------------- custom ops (torch.compile)


@torch.library.custom_op('mmdynact::spatial_mean', mutates_args=())
def _spatial_mean_op(x: Tensor) -> Tensor:
    return _mean(x)


@_spatial_mean_op.register_fake
def _(x):
    return x.new_empty(x.shape[:2], dtype=acc_dtype(x))


def _save_input(ctx, inputs, output):
    ctx.save_for_backward(*inputs)


_spatial_mean_op.register_autograd(
    lambda ctx, d_mean: mean_backward(ctx.saved_tensors[0], d_mean),
    setup_context=_save_input)


@torch.library.custom_op('mmdynact::spatial_mean_projection', mutates_args=())
def _spatial_mean_projection_op(
        x: Tensor, weight: Tensor,
        bias: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
    return _mean_projection(x, weight, bias)


@_spatial_mean_projection_op.register_fake
def _(x, weight, bias):
    return (x.new_empty(x.shape[:2], dtype=acc_dtype(x)),
            x.new_empty(
                (x.shape[0], 1) + x.shape[2:],
                dtype=torch.promote_types(x.dtype, weight.dtype)))


def _spatial_mean_projection_backward(ctx, d_mean: Tensor, d_z: Tensor):
    x, weight, bias = ctx.saved_tensors
    grad_z_x, grad_weight = projection_backward(x, d_z, weight)
    grad_x = mean_backward(x, d_mean) + grad_z_x.to(x.dtype)
    grad_bias = None if bias is None else d_z.sum().reshape(bias.shape)
    return grad_x, grad_weight, grad_bias


_spatial_mean_projection_op.register_autograd(
    _spatial_mean_projection_backward, setup_context=_save_input)


def spatial_mean(x: Tensor,
                 fold: Optional[FoldedInputGradient] = None,
                 layer: str = 'spatial_mean') -> Tensor:
    """``mean[n, c]`` over all positions of ``x`` ``(N, C, *)``, in float32
    (float64 for float64 input).

    Args:
        x: The input.
        fold: Shared with the consumer of the mean (see
            :class:`FoldedInputGradient`), or None.
        layer: Name of the calling layer, for error messages.
    """
    if torch.compiler.is_compiling():
        return _spatial_mean_op(x)
    return SpatialMeanFunction.apply(x, fold, layer)


def spatial_mean_projection(
        x: Tensor,
        weight: Tensor,
        bias: Optional[Tensor],
        fold: Optional[FoldedInputGradient] = None,
        layer: str = 'spatial_mean_projection') -> Tuple[Tensor, Tensor]:
    """``(mean[n, c], z[n, 1, *])`` with ``z = sum_c w_c x_c + bias``.

    ``weight`` has ``C`` elements (a 1x1 conv's ``(1, C, 1, 1)`` weight),
    ``bias`` one or is None. ``z`` has the dtype ``x`` and ``weight``
    promote to.
    """
    if torch.compiler.is_compiling():
        return _spatial_mean_projection_op(x, weight, bias)
    return SpatialMeanProjectionFunction.apply(x, weight, bias, fold, layer)
