"""The global context of an input: its spatial mean, and a 1x1 projection.

DY-ReLU and Meta-ACON compute their coefficients from the global average
pool ``mean[n, c] = sum_s x[n, c, s] / S``; DY-ReLU-C also projects the
input to one channel per position, ``z[n, s] = sum_c w_c x[n, c, s] + b``
(a 1x1 convolution), for its spatial attention. Both come from one read of
``x`` here, as a Triton kernel or in torch.

These are passes, not autograd nodes: the layers' single autograd functions
call them, and fold their gradients (``d_mean / S`` at every position, and
``d_z w_c``) into the pass that writes ``grad_x`` (:func:`pooled_gradient`).
"""
from typing import Optional, Tuple

from torch import Tensor

from .backend import torch_kernel
from .layout import acc_dtype, as_3d
from .triton_support import (REDUCE, STREAM, KernelInput, column_launch,
                             column_positions, column_tiling, partial_index,
                             programs_per_sample, row_channels, row_launch,
                             row_sample, row_tile, row_tiling, sample_start,
                             tile_offsets, tl, triton)

# ---------------------------------------------------------------- Triton


@triton.jit
def pooled_gradient(d_mean_ptr, n, c, C, c_ok, inv_s, ACC: tl.constexpr):
    """The pooled term ``d_mean[n, c] / S`` of ``grad_x``."""
    return tl.load(d_mean_ptr + n * C + c, mask=c_ok, other=0).to(ACC) * inv_s


@triton.jit(do_not_specialize=['C', 'S', 'CHUNK'])
def _mean_kernel(x_ptr, partial_ptr, C, S, CHUNK, inv_s, BLOCK_C: tl.constexpr,
                 BLOCK_S: tl.constexpr, CHANNELS_LAST: tl.constexpr,
                 ACC: tl.constexpr):
    """Row kernel: ``partial[n, c, chunk] = sum over the chunk / S``."""
    n = row_sample(C, BLOCK_C)
    c = row_channels(C, BLOCK_C)
    c_ok = c < C
    x_ptr += sample_start(n, C, S)
    total = tl.zeros([BLOCK_C, BLOCK_S], dtype=ACC)
    first = tl.program_id(1) * CHUNK
    for position in range(first, first + CHUNK, BLOCK_S):
        _, _, mask, offsets = row_tile(position, c, c_ok, C, S, BLOCK_S,
                                       CHANNELS_LAST)
        total += tl.load(x_ptr + offsets, mask=mask, other=0).to(ACC)
    tl.store(
        partial_ptr + partial_index(n, c, C),
        tl.sum(total, axis=1) * inv_s,
        mask=c_ok)


@triton.jit(do_not_specialize=['C', 'S'])
def _mean_projection_kernel(x_ptr, w_ptr, b_ptr, partial_ptr, z_ptr, C, S,
                            inv_s, BLOCK_C: tl.constexpr,
                            BLOCK_S: tl.constexpr, CHANNELS_LAST: tl.constexpr,
                            ACC: tl.constexpr):
    """Column kernel: ``z[n, s]`` complete, the mean's partial sums
    ``partial[n, c, s_block]``."""
    n = tl.program_id(0)
    s = column_positions(BLOCK_S)
    s_ok = s < S
    x_ptr += sample_start(n, C, S)
    z = tl.zeros([BLOCK_S], dtype=ACC) + tl.load(b_ptr).to(ACC)
    for start in range(0, C, BLOCK_C):
        c = start + tl.arange(0, BLOCK_C)
        c_ok = c < C
        x = tl.load(
            x_ptr + tile_offsets(c, s, C, S, CHANNELS_LAST),
            mask=c_ok[:, None] & s_ok[None, :],
            other=0).to(ACC)
        w = tl.load(w_ptr + c, mask=c_ok, other=0).to(ACC)
        z += tl.sum(x * w[:, None], axis=0)
        tl.store(
            partial_ptr + partial_index(n, c, C),
            tl.sum(x, axis=1) * inv_s,
            mask=c_ok)
    tl.store(z_ptr + n.to(tl.int64) * S + s, z, mask=s_ok)


def _sum_partials(partial: Tensor) -> Tensor:
    """``(N, C, parts)`` -> ``(N, C)``."""
    return partial[..., 0] if partial.shape[-1] == 1 else partial.sum(-1)


def triton_mean(inp: KernelInput) -> Tensor:
    """``mean[n, c]`` in float32 (float64 for float64 input)."""
    tiles = row_tiling(inp.c, inp.s, inp.channels_last, STREAM,
                       programs_per_sample(inp.x.device, inp.n))
    partial = inp.x.new_empty((inp.n, inp.c, tiles.chunks),
                              dtype=acc_dtype(inp.x))
    _mean_kernel[tiles.grid(inp.n)](
        x_ptr=inp.x,
        partial_ptr=partial,
        inv_s=1.0 / inp.s,
        **row_launch(inp, tiles))
    return _sum_partials(partial)


def triton_mean_projection(inp: KernelInput, weight: Tensor,
                           bias: Tensor) -> Tuple[Tensor, Tensor]:
    """``(mean (N, C), z (N, S))``, both in float32 (float64 for float64
    input); ``weight`` has ``C`` elements, ``bias`` one."""
    tiles = column_tiling(inp.c, inp.s, inp.channels_last, REDUCE)
    dtype = acc_dtype(inp.x)
    partial = inp.x.new_empty((inp.n, inp.c, tiles.s_blocks), dtype=dtype)
    z = inp.x.new_empty((inp.n, inp.s), dtype=dtype)
    _mean_projection_kernel[tiles.grid(inp.n)](
        x_ptr=inp.x,
        w_ptr=weight,
        b_ptr=bias,
        partial_ptr=partial,
        z_ptr=z,
        inv_s=1.0 / inp.s,
        **column_launch(inp, tiles))
    return _sum_partials(partial), z


# ------------------------------------------------------------ torch form


@torch_kernel
def torch_mean(x: Tensor) -> Tensor:
    """``mean[n, c]`` in float32 (float64 for float64 input)."""
    x3, channel_dim = as_3d(x)
    spatial_dim = 3 - channel_dim
    return x3.sum(spatial_dim, dtype=acc_dtype(x)) / x3.shape[spatial_dim]


@torch_kernel
def torch_mean_projection(x: Tensor, weight: Tensor,
                          bias: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
    """``(mean (N, C), z (N, S))`` in float32 (float64 for float64)."""
    x3, channel_dim = as_3d(x)
    dtype = acc_dtype(x)
    x3 = x3.to(dtype)
    spatial_dim = 3 - channel_dim
    mean = x3.sum(spatial_dim) / x3.shape[spatial_dim]
    w = weight.reshape(-1).to(dtype)
    z = (x3 *
         (w[:, None] if channel_dim == 1 else w[None, :])).sum(channel_dim)
    if bias is not None:
        z = z + bias.to(dtype)
    return mean, z
