"""FReLU ``y = max(x, BN(DWConv(x)))``, keeping only the input.

FReLU (Ma et al., "Funnel Activation for Visual Recognition", ECCV 2020):
the funnel condition ``T(x) = BN(c)``, ``c = DWConv_kxk(x)`` a depthwise
convolution (zero padding, no bias). Autograd through conv, batch norm and
max keeps ``x``, ``c`` and ``BN(c)``; here only ``x`` (and per-channel
statistics) is kept, and ``c`` is recomputed from ``x`` wherever it is
needed. With ``c_hat = (c - mean) invstd``, ``t = gamma c_hat + beta`` and
``g_t = g [t > x]``:

    grad_beta = sum g_t,  grad_gamma = sum g_t c_hat,
    grad_c = gamma invstd (g_t - grad_beta / M - c_hat grad_gamma / M)
             (batch statistics; without them, gamma invstd g_t),
    grad_x = g [t <= x] + DWConv^T(grad_c),
    grad_w[c, i, j] = sum_{n, p} grad_c[p] x[p + (i, j) - r],

``M = N * H * W``. The Triton passes (each one launch, the conv recomputed
in registers from ``x``): in training, statistics of ``c`` (sums shifted
by the running mean, added up in a small pass); the output; in backward,
the batch-norm sums; ``grad_c`` with the conv weight's sums; ``grad_x``.
"""
import math
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .backend import kernel_form, torch_kernel
from .grad_checks import check_no_double_backward
from .layout import acc_dtype, as_3d, from_3d, per_channel
from .triton_support import (acc_type, dense, kernel_input, match_layout,
                             next_power_of_2, programs_per_sample, row_program,
                             row_tile, tile_offsets, tiling, tl, triton)

# ---------------------------------------------------------------- Triton


@triton.jit
def _shifted(ptr, sample, c, c_ok, h, w, s_ok, dh, dw, C, S, H, W,
             CHANNELS_LAST: tl.constexpr, ACC: tl.constexpr):
    """The tile at positions ``(h + dh, w + dw)``, zero outside the map."""
    hh = h + dh
    ww = w + dw
    ok = s_ok & (hh >= 0) & (hh < H) & (ww >= 0) & (ww < W)
    return tl.load(
        ptr + sample + tile_offsets(c, hh * W + ww, C, S, CHANNELS_LAST),
        mask=c_ok[:, None] & ok[None, :],
        other=0).to(ACC)


@triton.jit
def _tap(w_ptr, c, c_ok, i, j, KS: tl.constexpr, ACC: tl.constexpr):
    """Weight ``(i, j)`` of the depthwise kernels of channels ``c``."""
    return tl.load(
        w_ptr + c * (KS * KS) + (i * KS + j), mask=c_ok, other=0).to(ACC)


@triton.jit
def _funnel_conv(x_ptr, w_ptr, sample, c, c_ok, h, w, s_ok, C, S, H, W,
                 KS: tl.constexpr, BLOCK_C: tl.constexpr,
                 BLOCK_S: tl.constexpr, CHANNELS_LAST: tl.constexpr,
                 ACC: tl.constexpr):
    """The depthwise conv at positions ``(h, w)`` of channels ``c``."""
    conv = tl.zeros([BLOCK_C, BLOCK_S], dtype=ACC)
    for i in tl.static_range(KS):
        for j in tl.static_range(KS):
            conv += _tap(w_ptr, c, c_ok, i, j, KS, ACC)[:, None] * _shifted(
                x_ptr, sample, c, c_ok, h, w, s_ok, i - KS // 2, j - KS // 2,
                C, S, H, W, CHANNELS_LAST, ACC)
    return conv


@triton.jit
def _backward_tile(x_ptr, g_ptr, w_ptr, start, c, c_ok, C, S, H, W, sample,
                   KS: tl.constexpr, BLOCK_C: tl.constexpr,
                   BLOCK_S: tl.constexpr, CHANNELS_LAST: tl.constexpr,
                   ACC: tl.constexpr):
    """What backward reads of a tile: ``(h, w, s_ok, mask, offsets, x, g,
    conv)``, the conv recomputed."""
    s, s_ok, mask, offsets = row_tile(start, c, c_ok, C, S, sample, BLOCK_S,
                                      CHANNELS_LAST)
    h = s // W
    w = s % W
    x = tl.load(x_ptr + offsets, mask=mask, other=0).to(ACC)
    grad = tl.load(g_ptr + offsets, mask=mask, other=0).to(ACC)
    conv = _funnel_conv(x_ptr, w_ptr, sample, c, c_ok, h, w, s_ok, C, S, H, W,
                        KS, BLOCK_C, BLOCK_S, CHANNELS_LAST, ACC)
    return h, w, s_ok, mask, offsets, x, grad, conv


@triton.jit
def _norm(bn_w_ptr, bn_b_ptr, mean_ptr, var_ptr, eps, c, c_ok,
          HAS_AFFINE: tl.constexpr, ACC: tl.constexpr):
    """Per-channel ``(mean, invstd, gamma, beta)``."""
    mean = tl.load(mean_ptr + c, mask=c_ok, other=0).to(ACC)
    var = tl.load(var_ptr + c, mask=c_ok, other=1).to(ACC)
    invstd = 1.0 / tl.sqrt(var + eps)
    gamma = tl.full(mean.shape, 1.0, ACC)
    beta = tl.zeros(mean.shape, ACC)
    if HAS_AFFINE:
        gamma = tl.load(bn_w_ptr + c, mask=c_ok, other=0).to(ACC)
        beta = tl.load(bn_b_ptr + c, mask=c_ok, other=0).to(ACC)
    return mean, invstd, gamma, beta


@triton.jit
def _scale_shift(bn_w_ptr, bn_b_ptr, mean_ptr, var_ptr, eps, c, c_ok,
                 HAS_AFFINE: tl.constexpr, ACC: tl.constexpr):
    """``(scale, shift)`` of the batch norm, ``t = scale * conv + shift``."""
    mean, invstd, gamma, beta = _norm(bn_w_ptr, bn_b_ptr, mean_ptr, var_ptr,
                                      eps, c, c_ok, HAS_AFFINE, ACC)
    scale = gamma * invstd
    return scale, beta - mean * scale


@triton.jit
def _channel_major(n, split, C, BLOCK_C: tl.constexpr):
    """``(columns, column)`` of a row program's partial sums, stored
    channel-major as ``(q, c, n * splits + split)``."""
    splits = tl.num_programs(1)
    return (tl.num_programs(0) // tl.cdiv(C, BLOCK_C) * splits,
            n * splits + split)


@triton.jit(do_not_specialize=['C', 'S', 'H', 'W', 'S_CHUNK'])
def _statistics_kernel(x_ptr, w_ptr, shift_ptr, partial_ptr, C, S, H, W,
                       S_CHUNK, KS: tl.constexpr, HAS_SHIFT: tl.constexpr,
                       BLOCK_C: tl.constexpr, BLOCK_S: tl.constexpr,
                       CHANNELS_LAST: tl.constexpr, ACC: tl.constexpr):
    """``partial[q, c, n * splits + split]``: sums of ``d`` and ``d^2``,
    ``d = conv - shift``, over a chunk of positions."""
    n, c, c_ok, split, sample = row_program(C, S, BLOCK_C)
    shift = tl.zeros([BLOCK_C], dtype=ACC)
    if HAS_SHIFT:
        shift = tl.load(shift_ptr + c, mask=c_ok, other=0).to(ACC)
    total = tl.zeros([BLOCK_C, BLOCK_S], dtype=ACC)
    squares = tl.zeros([BLOCK_C, BLOCK_S], dtype=ACC)
    for start in range(split * S_CHUNK, (split + 1) * S_CHUNK, BLOCK_S):
        s, s_ok, mask, _ = row_tile(start, c, c_ok, C, S, sample, BLOCK_S,
                                    CHANNELS_LAST)
        conv = _funnel_conv(x_ptr, w_ptr, sample, c, c_ok, s // W, s % W, s_ok,
                            C, S, H, W, KS, BLOCK_C, BLOCK_S, CHANNELS_LAST,
                            ACC)
        d = tl.where(mask, conv - shift[:, None], 0.0)
        total += d
        squares += d * d
    rows, column = _channel_major(n, split, C, BLOCK_C)
    tl.store(partial_ptr + c * rows + column, tl.sum(total, axis=1), mask=c_ok)
    tl.store(
        partial_ptr + (C + c) * rows + column,
        tl.sum(squares, axis=1),
        mask=c_ok)


@triton.jit(do_not_specialize=['C', 'ROWS'])
def _moments_kernel(partial_ptr, shift_ptr, mean_ptr, var_ptr, C, ROWS,
                    inv_count, HAS_SHIFT: tl.constexpr, BLOCK_C: tl.constexpr,
                    BLOCK_R: tl.constexpr, ACC: tl.constexpr):
    """Mean and biased variance of the conv from the shifted sums."""
    c = tl.program_id(0) * BLOCK_C + tl.arange(0, BLOCK_C)
    c_ok = c < C
    total = tl.zeros([BLOCK_C, BLOCK_R], dtype=ACC)
    squares = tl.zeros([BLOCK_C, BLOCK_R], dtype=ACC)
    for start in range(0, ROWS, BLOCK_R):
        r = start + tl.arange(0, BLOCK_R)
        mask = c_ok[:, None] & (r < ROWS)[None, :]
        offsets = c[:, None] * ROWS + r[None, :]
        total += tl.load(partial_ptr + offsets, mask=mask, other=0).to(ACC)
        squares += tl.load(
            partial_ptr + C * ROWS + offsets, mask=mask, other=0).to(ACC)
    mean_d = tl.sum(total, axis=1) * inv_count
    var = tl.maximum(
        tl.sum(squares, axis=1) * inv_count - mean_d * mean_d, 0.0)
    if HAS_SHIFT:
        mean_d += tl.load(shift_ptr + c, mask=c_ok, other=0).to(ACC)
    tl.store(mean_ptr + c, mean_d, mask=c_ok)
    tl.store(var_ptr + c, var, mask=c_ok)


@triton.jit(do_not_specialize=['C', 'S', 'H', 'W', 'S_CHUNK'])
def _forward_kernel(x_ptr, y_ptr, w_ptr, bn_w_ptr, bn_b_ptr, mean_ptr, var_ptr,
                    eps, C, S, H, W, S_CHUNK, KS: tl.constexpr,
                    HAS_AFFINE: tl.constexpr, BLOCK_C: tl.constexpr,
                    BLOCK_S: tl.constexpr, CHANNELS_LAST: tl.constexpr,
                    ACC: tl.constexpr):
    n, c, c_ok, split, sample = row_program(C, S, BLOCK_C)
    scale, shift = _scale_shift(bn_w_ptr, bn_b_ptr, mean_ptr, var_ptr, eps, c,
                                c_ok, HAS_AFFINE, ACC)
    for start in range(split * S_CHUNK, (split + 1) * S_CHUNK, BLOCK_S):
        s, s_ok, mask, offsets = row_tile(start, c, c_ok, C, S, sample,
                                          BLOCK_S, CHANNELS_LAST)
        x = tl.load(x_ptr + offsets, mask=mask, other=0).to(ACC)
        conv = _funnel_conv(x_ptr, w_ptr, sample, c, c_ok, s // W, s % W, s_ok,
                            C, S, H, W, KS, BLOCK_C, BLOCK_S, CHANNELS_LAST,
                            ACC)
        tl.store(
            y_ptr + offsets,
            tl.maximum(x, conv * scale[:, None] + shift[:, None]),
            mask=mask)


@triton.jit(do_not_specialize=['C', 'S', 'H', 'W', 'S_CHUNK'])
def _backward_norm_kernel(
        x_ptr, g_ptr, w_ptr, bn_w_ptr, bn_b_ptr, mean_ptr, var_ptr, eps,
        sums_ptr, inv_count, partial_ptr, grad_c_ptr, w_partial_ptr, C, S, H,
        W, S_CHUNK, KS: tl.constexpr, KKP: tl.constexpr,
        HAS_AFFINE: tl.constexpr, REDUCE: tl.constexpr,
        BATCH_STATS: tl.constexpr, WRITE_GRAD_C: tl.constexpr,
        WEIGHT_SUMS: tl.constexpr, BLOCK_C: tl.constexpr,
        BLOCK_S: tl.constexpr, CHANNELS_LAST: tl.constexpr, ACC: tl.constexpr):
    """Batch-norm sums of a chunk (``REDUCE``), and/or ``grad_c``
    (``WRITE_GRAD_C``, needing the finished sums when ``BATCH_STATS``)
    with the conv weight's sums ``sum grad_c x[p + tap]``
    (``WEIGHT_SUMS``)."""
    n, c, c_ok, split, sample = row_program(C, S, BLOCK_C)
    mean, invstd, gamma, beta = _norm(bn_w_ptr, bn_b_ptr, mean_ptr, var_ptr,
                                      eps, c, c_ok, HAS_AFFINE, ACC)
    mean_gt = tl.zeros([BLOCK_C], dtype=ACC)
    mean_gtc = tl.zeros([BLOCK_C], dtype=ACC)
    if BATCH_STATS and WRITE_GRAD_C:
        mean_gt = tl.load(sums_ptr + c, mask=c_ok, other=0).to(ACC) * \
            inv_count
        mean_gtc = tl.load(sums_ptr + C + c, mask=c_ok, other=0).to(ACC) * \
            inv_count
    sum_gt = tl.zeros([BLOCK_C, BLOCK_S], dtype=ACC)
    sum_gtc = tl.zeros([BLOCK_C, BLOCK_S], dtype=ACC)
    tap_index = tl.arange(0, KKP)
    weight_sums = tl.zeros([BLOCK_C, KKP], dtype=ACC)
    for start in range(split * S_CHUNK, (split + 1) * S_CHUNK, BLOCK_S):
        h, w, s_ok, mask, offsets, x, grad, conv = _backward_tile(
            x_ptr, g_ptr, w_ptr, start, c, c_ok, C, S, H, W, sample, KS,
            BLOCK_C, BLOCK_S, CHANNELS_LAST, ACC)
        c_hat = (conv - mean[:, None]) * invstd[:, None]
        grad_t = tl.where(c_hat * gamma[:, None] + beta[:, None] > x, grad,
                          0.0)
        if REDUCE:
            sum_gt += grad_t
            sum_gtc += grad_t * c_hat
        if WRITE_GRAD_C:
            if BATCH_STATS:
                grad_t = grad_t - mean_gt[:, None] - c_hat * mean_gtc[:, None]
            grad_c = tl.where(mask, grad_t * (gamma * invstd)[:, None], 0.0)
            tl.store(grad_c_ptr + offsets, grad_c, mask=mask)
            if WEIGHT_SUMS:
                for i in tl.static_range(KS):
                    for j in tl.static_range(KS):
                        shifted = _shifted(x_ptr, sample, c, c_ok, h, w, s_ok,
                                           i - KS // 2, j - KS // 2, C, S, H,
                                           W, CHANNELS_LAST, ACC)
                        tap_sum = tl.sum(grad_c * shifted, axis=1)
                        weight_sums = tl.where(
                            tap_index[None, :] == i * KS + j,
                            weight_sums + tap_sum[:, None], weight_sums)
    rows, column = _channel_major(n, split, C, BLOCK_C)
    if REDUCE:
        tl.store(
            partial_ptr + c * rows + column, tl.sum(sum_gt, axis=1), mask=c_ok)
        tl.store(
            partial_ptr + (C + c) * rows + column,
            tl.sum(sum_gtc, axis=1),
            mask=c_ok)
    if WEIGHT_SUMS:
        tl.store(
            w_partial_ptr + (c[:, None] *
                             (KS * KS) + tap_index[None, :]) * rows + column,
            weight_sums,
            mask=c_ok[:, None] & (tap_index < KS * KS)[None, :])


@triton.jit(do_not_specialize=['C', 'S', 'H', 'W', 'S_CHUNK'])
def _backward_input_kernel(x_ptr, g_ptr, grad_c_ptr, gx_ptr, w_ptr, bn_w_ptr,
                           bn_b_ptr, mean_ptr, var_ptr, eps, C, S, H, W,
                           S_CHUNK, KS: tl.constexpr, HAS_AFFINE: tl.constexpr,
                           BLOCK_C: tl.constexpr, BLOCK_S: tl.constexpr,
                           CHANNELS_LAST: tl.constexpr, ACC: tl.constexpr):
    """``grad_x = g [t <= x] + DWConv^T(grad_c)``."""
    n, c, c_ok, split, sample = row_program(C, S, BLOCK_C)
    scale, shift = _scale_shift(bn_w_ptr, bn_b_ptr, mean_ptr, var_ptr, eps, c,
                                c_ok, HAS_AFFINE, ACC)
    for start in range(split * S_CHUNK, (split + 1) * S_CHUNK, BLOCK_S):
        h, w, s_ok, mask, offsets, x, grad, conv = _backward_tile(
            x_ptr, g_ptr, w_ptr, start, c, c_ok, C, S, H, W, sample, KS,
            BLOCK_C, BLOCK_S, CHANNELS_LAST, ACC)
        t = conv * scale[:, None] + shift[:, None]
        grad_x = tl.where(t > x, 0.0, grad)
        for i in tl.static_range(KS):
            for j in tl.static_range(KS):
                grad_x += _tap(w_ptr, c, c_ok, i, j, KS, ACC)[:, None] * \
                    _shifted(grad_c_ptr, sample, c, c_ok, h, w, s_ok,
                             KS // 2 - i, KS // 2 - j, C, S, H, W,
                             CHANNELS_LAST, ACC)
        tl.store(gx_ptr + offsets, grad_x, mask=mask)


class _TritonKernels:
    """The passes as Triton kernels."""

    @staticmethod
    def forward(x: Tensor, kernel: Tensor, bn_w: Optional[Tensor],
                bn_b: Optional[Tensor], mean: Optional[Tensor],
                var: Optional[Tensor], shift: Optional[Tensor],
                eps: float) -> Tuple[Tensor, Tensor, Tensor]:
        """``(y, mean, var)``; batch statistics (shifted by ``shift``) when
        ``mean`` and ``var`` are None."""
        h, w = x.shape[2:]
        x, n, c, s, channels_last = kernel_input(x)
        kernel = kernel.contiguous()
        acc = acc_type(x.dtype)
        geometry = dict(
            KS=kernel.shape[-1], CHANNELS_LAST=channels_last, ACC=acc)
        if mean is None:
            tiles = tiling(c, s, channels_last,
                           programs_per_sample(x.device, n))
            rows = n * tiles.splits
            partial = x.new_empty((2, c, rows), dtype=acc_dtype(x))
            _statistics_kernel[tiles.rows(n)](
                x,
                kernel,
                shift,
                partial,
                c,
                s,
                h,
                w,
                tiles.s_chunk,
                HAS_SHIFT=shift is not None,
                BLOCK_C=tiles.block_c,
                BLOCK_S=tiles.block_s,
                **geometry)
            mean = x.new_empty(c, dtype=acc_dtype(x))
            var = torch.empty_like(mean)
            block_c = min(next_power_of_2(c), 64)
            _moments_kernel[(-(-c // block_c), )](
                partial,
                shift,
                mean,
                var,
                c,
                rows,
                1.0 / (n * s),
                HAS_SHIFT=shift is not None,
                BLOCK_C=block_c,
                BLOCK_R=min(next_power_of_2(rows), 32),
                ACC=acc)
        tiles = tiling(c, s, channels_last, None)
        y = torch.empty_like(x)
        norm = (bn_w, bn_b, mean, var, eps)
        _forward_kernel[tiles.rows(n)](
            x,
            y,
            kernel,
            *norm,
            c,
            s,
            h,
            w,
            tiles.s_chunk,
            HAS_AFFINE=bn_w is not None,
            BLOCK_C=tiles.block_c,
            BLOCK_S=tiles.block_s,
            **geometry)
        return y, mean, var

    @staticmethod
    def backward(x: Tensor, grad_y: Tensor, kernel: Tensor,
                 bn_w: Optional[Tensor], bn_b: Optional[Tensor], mean: Tensor,
                 var: Tensor, eps: float, batch_stats: bool, need_x: bool,
                 need_kernel: bool):
        """``(grad_x, grad_kernel, grad_bn_w, grad_bn_b)``, None where not
        needed (the batch-norm gradients always come)."""
        h, w = x.shape[2:]
        x, n, c, s, channels_last = kernel_input(x)
        grad_y = dense(grad_y, channels_last)
        kernel = kernel.contiguous()
        ks = kernel.shape[-1]
        tiles = tiling(c, s, channels_last, programs_per_sample(x.device, n))
        rows = n * tiles.splits
        partial = x.new_empty((2, c, rows), dtype=acc_dtype(x))
        grad_c = torch.empty_like(x) if need_x or need_kernel else None
        w_partial = (
            x.new_empty((c, ks * ks,
                         rows), dtype=acc_dtype(x)) if need_kernel else None)
        launch = _backward_norm_kernel[tiles.rows(n)]
        common = dict(
            KS=ks,
            KKP=next_power_of_2(ks * ks),
            HAS_AFFINE=bn_w is not None,
            BATCH_STATS=batch_stats,
            BLOCK_C=tiles.block_c,
            BLOCK_S=tiles.block_s,
            CHANNELS_LAST=channels_last,
            ACC=acc_type(x.dtype))
        norm = (bn_w, bn_b, mean, var, eps)
        args = (x, grad_y, kernel, *norm)
        geometry = (c, s, h, w, tiles.s_chunk)
        inv_count = 1.0 / (n * s)
        if batch_stats:  # grad_c needs the finished sums: two passes
            launch(
                *args,
                None,
                inv_count,
                partial,
                None,
                None,
                *geometry,
                REDUCE=True,
                WRITE_GRAD_C=False,
                WEIGHT_SUMS=False,
                **common)
            sums = partial.sum(-1)
            if grad_c is not None:
                launch(
                    *args,
                    sums,
                    inv_count,
                    None,
                    grad_c,
                    w_partial,
                    *geometry,
                    REDUCE=False,
                    WRITE_GRAD_C=True,
                    WEIGHT_SUMS=need_kernel,
                    **common)
        else:
            launch(
                *args,
                None,
                inv_count,
                partial,
                grad_c,
                w_partial,
                *geometry,
                REDUCE=True,
                WRITE_GRAD_C=grad_c is not None,
                WEIGHT_SUMS=need_kernel,
                **common)
            sums = partial.sum(-1)
        grad_x = None
        if need_x:
            grad_x = torch.empty_like(x)
            tiles = tiling(c, s, channels_last, None)
            _backward_input_kernel[tiles.rows(n)](
                x,
                grad_y,
                grad_c,
                grad_x,
                kernel,
                *norm,
                c,
                s,
                h,
                w,
                tiles.s_chunk,
                KS=ks,
                HAS_AFFINE=bn_w is not None,
                BLOCK_C=tiles.block_c,
                BLOCK_S=tiles.block_s,
                CHANNELS_LAST=channels_last,
                ACC=acc_type(x.dtype))
        grad_kernel = (
            w_partial.sum(-1).view_as(kernel).to(kernel.dtype)
            if need_kernel else None)
        return grad_x, grad_kernel, sums[1], sums[0]


# ------------------------------------------------------------ torch form


def _conv(x: Tensor, kernel: Tensor) -> Tensor:
    return F.conv2d(
        x,
        kernel.to(x.dtype),
        padding=kernel.shape[-1] // 2,
        groups=x.shape[1])


def _per_channel(values: Optional[Tensor], default: float, like: Tensor,
                 channel_dim: int) -> Tensor:
    """Per-channel values ``(C, )`` (None: ``default``) against the 3D view
    ``like`` of :func:`~.layout.as_3d`."""
    if values is None:
        return torch.full((1, 1, 1),
                          default,
                          dtype=like.dtype,
                          device=like.device)
    return per_channel(values.to(like.dtype).view(1, -1), channel_dim)


def _channel_sum(t: Tensor, channel_dim: int) -> Tensor:
    """Sum of a 3D view per channel: positions first (contiguous), then the
    samples (inductor fuses this far better than one reduction over both)."""
    return t.sum(3 - channel_dim).sum(0)


@torch_kernel
def _torch_norm_max(x: Tensor, conv: Tensor, bn_w: Optional[Tensor],
                    bn_b: Optional[Tensor], mean: Optional[Tensor],
                    var: Optional[Tensor], eps: float):
    """``(max(x, BN(conv)), mean, var)``, batch statistics when ``mean`` is
    None."""
    x3, channel_dim = as_3d(x)
    c3 = as_3d(conv)[0].to(acc_dtype(x))
    if mean is None:
        count = x.numel() // x.shape[1]
        mean = _channel_sum(c3, channel_dim) / count
        centred = c3 - per_channel(mean.view(1, -1), channel_dim)
        var = _channel_sum(centred * centred, channel_dim) / count
    scale = _per_channel(bn_w, 1.0, c3, channel_dim) * per_channel(
        torch.rsqrt(var.to(c3.dtype) + eps).view(1, -1), channel_dim)
    t = (c3 - per_channel(mean.to(c3.dtype).view(1, -1), channel_dim)) * \
        scale + _per_channel(bn_b, 0.0, c3, channel_dim)
    y = torch.maximum(x3.to(c3.dtype), t).to(x.dtype)
    return from_3d(y, x, channel_dim), mean, var


def _norm_4d(bn_w: Optional[Tensor], bn_b: Optional[Tensor], mean: Tensor,
             var: Tensor, eps: float, dtype: torch.dtype) -> tuple:
    """The batch norm's per-channel ``(scale, shift, mean, invstd, gamma)``,
    each ``(1, C, 1, 1)``; ``t = scale conv + shift``."""
    invstd = torch.rsqrt(var.to(dtype) + eps)
    gamma = torch.ones_like(invstd) if bn_w is None else bn_w.to(dtype)
    beta = torch.zeros_like(invstd) if bn_b is None else bn_b.to(dtype)
    scale = gamma * invstd
    shift = beta - mean.to(dtype) * scale
    return tuple(
        t.view(1, -1, 1, 1)
        for t in (scale, shift, mean.to(dtype), invstd, gamma))


@torch_kernel
def _torch_norm_backward(x: Tensor, grad_y: Tensor, conv: Tensor,
                         scale: Tensor, shift: Tensor, mean: Tensor,
                         invstd: Tensor, gamma: Tensor, batch_stats: bool):
    """``(g [t <= x], grad_c, grad_gamma, grad_beta)``; written in the form
    that inductor compiles to one fast loop nest on CPU."""
    dtype = acc_dtype(x)
    conv = conv.to(dtype)
    grad = grad_y.to(dtype)
    funnel_wins = x.to(dtype) < conv * scale + shift
    grad_t = torch.where(funnel_wins, grad, 0)
    grad_x = torch.where(funnel_wins, 0, grad).to(x.dtype)
    c_hat = (conv - mean) * invstd
    sum_gt = grad_t.sum((0, 2, 3))
    sum_gtc = (grad_t * c_hat).sum((0, 2, 3))
    if batch_stats:
        count = conv.numel() // conv.shape[1]
        grad_t = (
            grad_t - sum_gt.view(1, -1, 1, 1) / count - c_hat *
            (sum_gtc.view(1, -1, 1, 1) / count))
    grad_c = (grad_t * (gamma * invstd)).to(x.dtype)
    return grad_x, grad_c, sum_gtc, sum_gt


class _TorchKernels:
    """The passes in plain PyTorch: the depthwise conv and its backward as
    aten ops (inductor would lower them to slower convolutions on CPU), the
    batch norm and the max ``compiled`` or ``eager``."""

    def __init__(self, form: str) -> None:
        self.form = form

    def forward(self, x: Tensor, kernel: Tensor, bn_w: Optional[Tensor],
                bn_b: Optional[Tensor], mean: Optional[Tensor],
                var: Optional[Tensor], shift: Optional[Tensor], eps: float):
        return _torch_norm_max(self.form, x, match_layout(_conv(x, kernel), x),
                               bn_w, bn_b, mean, var, eps)

    def backward(self, x: Tensor, grad_y: Tensor, kernel: Tensor,
                 bn_w: Optional[Tensor], bn_b: Optional[Tensor], mean: Tensor,
                 var: Tensor, eps: float, batch_stats: bool, need_x: bool,
                 need_kernel: bool):
        grad_x, grad_c, grad_gamma, grad_beta = _torch_norm_backward(
            self.form, x, grad_y, _conv(x, kernel),
            *_norm_4d(bn_w, bn_b, mean, var, eps, acc_dtype(x)), batch_stats)
        if not (need_x or need_kernel):
            return None, None, grad_gamma, grad_beta
        k = kernel.shape[-1] // 2
        grad_input, grad_kernel, _ = torch.ops.aten.convolution_backward(
            grad_c, x, kernel.to(x.dtype), None, [1, 1], [k, k], [1, 1], False,
            [0, 0], x.shape[1], [need_x, need_kernel, False])
        return (grad_x.add_(grad_input) if need_x else None,
                grad_kernel.to(kernel.dtype) if need_kernel else None,
                grad_gamma, grad_beta)


_KERNELS = {
    'triton': _TritonKernels(),
    'compiled': _TorchKernels('compiled'),
    'eager': _TorchKernels('eager'),
}

# ------------------------------------------------------------- autograd


def _norm_grads(grad_gamma: Tensor, grad_beta: Tensor, bn_w: Optional[Tensor],
                bn_b: Optional[Tensor], needs: tuple):
    need_w, need_b = needs
    return ((grad_gamma.to(bn_w.dtype).view_as(bn_w) if need_w else None),
            (grad_beta.to(bn_b.dtype).view_as(bn_b) if need_b else None))


class FunnelMaxFunction(torch.autograd.Function):
    """``max(x, BN(DWConv(x)))`` keeping only ``x``."""

    @staticmethod
    def count_flops(shapes: List[Tuple[int, ...]]) -> int:
        """Per element: the ``k x k`` depthwise conv's multiply-adds, the
        batch norm's affine and the max. Inputs: ``x, kernel, ...``."""
        return math.prod(shapes[0]) * (math.prod(shapes[1][-2:]) + 2)

    @staticmethod
    def forward(ctx, x: Tensor, kernel: Tensor, bn_w: Optional[Tensor],
                bn_b: Optional[Tensor], running_mean: Optional[Tensor],
                running_var: Optional[Tensor], eps: float, batch_stats: bool,
                layer: str):
        kernels = _KERNELS[kernel_form(x.device)]
        if batch_stats:
            y, mean, var = kernels.forward(x, kernel, bn_w, bn_b, None, None,
                                           running_mean, eps)
        else:
            mean, var = running_mean, running_var
            y, _, _ = kernels.forward(x, kernel, bn_w, bn_b, mean, var, None,
                                      eps)
        ctx.save_for_backward(x, kernel, bn_w, bn_b, mean, var)
        ctx.eps, ctx.batch_stats, ctx.layer, ctx.kernels = \
            eps, batch_stats, layer, kernels
        if not batch_stats:
            return y
        ctx.mark_non_differentiable(mean, var)
        return y, mean, var

    @staticmethod
    def backward(ctx, grad_y: Tensor, *_):
        check_no_double_backward(ctx.layer)
        x, kernel, bn_w, bn_b, mean, var = ctx.saved_tensors
        need_x, need_kernel, need_w, need_b = ctx.needs_input_grad[:4]
        grad_x, grad_kernel, grad_gamma, grad_beta = ctx.kernels.backward(
            x, grad_y, kernel, bn_w, bn_b, mean, var, ctx.eps, ctx.batch_stats,
            need_x, need_kernel)
        return (grad_x, grad_kernel,
                *_norm_grads(grad_gamma, grad_beta, bn_w, bn_b,
                             (need_w, need_b)), None, None, None, None, None)


# ------------------------------------------- custom ops (torch.compile)


@torch.library.custom_op('mmdynact::funnel_max', mutates_args=())
def _funnel_op(x: Tensor, kernel: Tensor, bn_w: Optional[Tensor],
               bn_b: Optional[Tensor], running_mean: Optional[Tensor],
               running_var: Optional[Tensor], eps: float,
               batch_stats: bool) -> Tuple[Tensor, Tensor, Tensor]:
    kernels = _KERNELS[kernel_form(x.device)]
    if batch_stats:
        return kernels.forward(x, kernel, bn_w, bn_b, None, None, running_mean,
                               eps)
    y, _, _ = kernels.forward(x, kernel, bn_w, bn_b, running_mean, running_var,
                              None, eps)
    return y, running_mean.clone(), running_var.clone()


@_funnel_op.register_fake
def _(x, kernel, bn_w, bn_b, running_mean, running_var, eps, batch_stats):
    stats = x.new_empty(x.shape[1], dtype=acc_dtype(x))
    if not batch_stats:
        stats = torch.empty_like(running_mean)
    return torch.empty_like(x), stats, torch.empty_like(stats)


@torch.library.custom_op('mmdynact::funnel_max_backward', mutates_args=())
def _funnel_backward_op(
        x: Tensor, grad_y: Tensor, kernel: Tensor, bn_w: Optional[Tensor],
        bn_b: Optional[Tensor], mean: Tensor, var: Tensor, eps: float,
        batch_stats: bool) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    return _KERNELS[kernel_form(x.device)].backward(x, grad_y, kernel, bn_w,
                                                    bn_b, mean, var, eps,
                                                    batch_stats, True, True)


@_funnel_backward_op.register_fake
def _(x, grad_y, kernel, bn_w, bn_b, mean, var, eps, batch_stats):
    sums = x.new_empty(x.shape[1], dtype=acc_dtype(x))
    return (torch.empty_like(x), torch.empty_like(kernel), sums,
            torch.empty_like(sums))


def _setup_op_context(ctx, inputs, output):
    x, kernel, bn_w, bn_b, _, _, eps, batch_stats = inputs
    ctx.save_for_backward(x, kernel, bn_w, bn_b, output[1], output[2])
    ctx.eps, ctx.batch_stats = eps, batch_stats


def _op_backward(ctx, grad_y, *_):
    check_no_double_backward('FReLU (funnel_max)')
    x, kernel, bn_w, bn_b, mean, var = ctx.saved_tensors
    grad_x, grad_kernel, grad_gamma, grad_beta = _funnel_backward_op(
        x, grad_y, kernel, bn_w, bn_b, mean, var, ctx.eps, ctx.batch_stats)
    return (grad_x, grad_kernel,
            *_norm_grads(grad_gamma, grad_beta, bn_w, bn_b,
                         (bn_w is not None, bn_b is not None)), None, None,
            None, None)


_funnel_op.register_autograd(_op_backward, setup_context=_setup_op_context)


def funnel_max(
    x: Tensor,
    kernel: Tensor,
    bn_weight: Optional[Tensor],
    bn_bias: Optional[Tensor],
    running_mean: Optional[Tensor],
    running_var: Optional[Tensor],
    eps: float,
    batch_stats: bool,
    layer: str = 'funnel_max'
) -> Tuple[Tensor, Optional[Tensor], Optional[Tensor]]:
    """``max(x, BN(DWConv(x)))`` (see the module docstring).

    Args:
        x: Input ``(N, C, H, W)``.
        kernel: Depthwise conv weight ``(C, 1, k, k)``, ``k`` odd (zero
            padding ``k // 2``, no bias).
        bn_weight, bn_bias: The batch norm's affine parameters ``(C, )``, or
            None.
        running_mean, running_var: Its running statistics ``(C, )``: used
            when ``batch_stats`` is False; in training they only steady the
            sums (batch statistics are shifted by the running mean).
        eps: The batch norm's epsilon.
        batch_stats: Normalise with the batch's statistics (training).
        layer: Name of the calling layer, for error messages.

    Returns:
        ``(y, mean, var)``: ``y`` shaped, typed and laid out like ``x``; the
        batch mean and biased variance of the conv ``(C, )`` when
        ``batch_stats``, else None.
    """
    if torch.compiler.is_compiling():
        y, mean, var = _funnel_op(x, kernel, bn_weight, bn_bias, running_mean,
                                  running_var, eps, batch_stats)
        return (y, mean, var) if batch_stats else (y, None, None)
    if batch_stats:
        return FunnelMaxFunction.apply(x, kernel, bn_weight, bn_bias,
                                       running_mean, running_var, eps, True,
                                       layer)
    return FunnelMaxFunction.apply(x, kernel, bn_weight, bn_bias, running_mean,
                                   running_var, eps, False, layer), None, None
