"""FReLU ``y = max(x, BN(DWConv(x)))`` as one node, keeping only the input.

FReLU (Ma et al., "Funnel Activation for Visual Recognition", ECCV 2020):
the funnel condition ``T(x) = BN(c)``, ``c = DWConv_kxk(x)`` a depthwise
convolution (zero padding, no bias). Autograd through conv, batch norm and
max keeps ``x``, ``c`` and ``BN(c)``; here only ``x`` (and per-channel
statistics) is kept, and ``c`` is recomputed from ``x`` wherever it is
needed. With ``t = scale c + shift`` (``scale = gamma invstd``, ``shift =
beta - mean scale``: one formula decides the winner everywhere, so at a
tie the gradient goes to ``x`` alone), ``c_hat = (c - mean) invstd`` and
``g_t = g [t > x]``:

    grad_beta = sum g_t,  grad_gamma = sum g_t c_hat,
    grad_c = gamma invstd (g_t - grad_beta / M - c_hat grad_gamma / M)
             (batch statistics; with running statistics gamma invstd g_t),
    grad_x = g [t <= x] + DWConv^T(grad_c),
    grad_w[c, i, j] = sum_{n, p} grad_c[p + (r - i, r - j)] x[p],

``M = N * H * W``, ``r = k // 2``. The transposed convolution and the
weight's sums read the same shifted tiles of ``grad_c``. The Triton passes,
each one launch, the conv recomputed in registers from ``x``: in training,
the conv's statistics (sums shifted by the running mean, then a small pass
for the moments that also updates the running statistics); ``y``; in
backward, the batch norm's sums (batch statistics only); ``grad_c`` (with
running statistics, also the sums); ``grad_x`` with the weight's sums.
"""
import math
import weakref
from typing import Dict, List, NamedTuple, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .backend import FormPasses, torch_kernel
from .grad_checks import check_no_double_backward, records_graph
from .layout import acc_dtype, as_3d, per_channel
from .triton_support import (TileShape, kernel_input, match_layout,
                             next_power_of_2, programs_per_sample,
                             row_channels, row_launch, row_sample, row_tile,
                             row_tiling, sample_start, tile_offsets, tl,
                             triton)

#: tiles of the passes that recompute the convolution: few elements per
#: thread, so that the taps' values fit in registers
FUNNEL = TileShape(512, 32, 128, 8)
#: the same tiles for the pass that also reads the transposed convolution's
#: taps, walked by twice the threads
FUNNEL_TRANSPOSED = FUNNEL._replace(warps=16)


class FunnelNorm(NamedTuple):
    """The funnel's batch norm as the passes see it."""
    weight: Optional[Tensor]
    bias: Optional[Tensor]
    running_mean: Optional[Tensor]
    running_var: Optional[Tensor]
    eps: float
    #: normalise by the batch's statistics (training, or no running ones)
    batch_stats: bool
    #: the running statistics' update factor, or None for no update
    momentum: Optional[float]


# ---------------------------------------------------------------- Triton


@triton.jit
def _shifted(ptr, c, c_ok, h, w, s_ok, dh, dw, C, S, H, W,
             CHANNELS_LAST: tl.constexpr, ACC: tl.constexpr):
    """The tile at positions ``(h + dh, w + dw)``, zero outside the map
    (``ptr`` points at the sample)."""
    hh = h + dh
    ww = w + dw
    ok = s_ok & (hh >= 0) & (hh < H) & (ww >= 0) & (ww < W)
    return tl.load(
        ptr + tile_offsets(c, hh * W + ww, C, S, CHANNELS_LAST),
        mask=c_ok[:, None] & ok[None, :],
        other=0).to(ACC)


@triton.jit
def _tap(w_ptr, c, c_ok, i, j, KS: tl.constexpr, ACC: tl.constexpr):
    """Weight ``(i, j)`` of the depthwise kernels of channels ``c``."""
    return tl.load(
        w_ptr + c * (KS * KS) + (i * KS + j), mask=c_ok, other=0).to(ACC)


@triton.jit
def _funnel_conv(x_ptr, w_ptr, c, c_ok, h, w, s_ok, C, S, H, W,
                 KS: tl.constexpr, BLOCK_C: tl.constexpr,
                 BLOCK_S: tl.constexpr, CHANNELS_LAST: tl.constexpr,
                 ACC: tl.constexpr):
    """The depthwise conv at positions ``(h, w)`` of channels ``c``."""
    conv = tl.zeros([BLOCK_C, BLOCK_S], dtype=ACC)
    for i in tl.static_range(KS):
        for j in tl.static_range(KS):
            conv += _tap(w_ptr, c, c_ok, i, j, KS, ACC)[:, None] * _shifted(
                x_ptr, c, c_ok, h, w, s_ok, i - KS // 2, j - KS // 2, C, S, H,
                W, CHANNELS_LAST, ACC)
    return conv


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
def _funnel_wins(conv, x, mean, invstd, gamma, beta):
    """Where ``t = scale conv + shift`` beats ``x`` (the one formula of the
    forward and every backward pass)."""
    scale = gamma * invstd
    shift = beta - mean * scale
    return conv * scale[:, None] + shift[:, None] > x


@triton.jit(do_not_specialize=['C', 'S', 'H', 'W', 'CHUNK', 'ROWS'])
def _statistics_kernel(x_ptr, w_ptr, shift_ptr, partial_ptr, C, S, H, W, CHUNK,
                       ROWS, KS: tl.constexpr, HAS_SHIFT: tl.constexpr,
                       BLOCK_C: tl.constexpr, BLOCK_S: tl.constexpr,
                       CHANNELS_LAST: tl.constexpr, ACC: tl.constexpr):
    """A chunk's sums of ``d`` and ``d^2``, ``d = conv - shift``."""
    n = row_sample(C, BLOCK_C)
    c = row_channels(C, BLOCK_C)
    c_ok = c < C
    shift = tl.zeros([BLOCK_C], dtype=ACC)
    if HAS_SHIFT:
        shift = tl.load(shift_ptr + c, mask=c_ok, other=0).to(ACC)
    x_ptr += sample_start(n, C, S)
    total = tl.zeros([BLOCK_C, BLOCK_S], dtype=ACC)
    squares = tl.zeros([BLOCK_C, BLOCK_S], dtype=ACC)
    first = tl.program_id(1) * CHUNK
    for position in range(first, first + CHUNK, BLOCK_S):
        s, s_ok, mask, _ = row_tile(position, c, c_ok, C, S, BLOCK_S,
                                    CHANNELS_LAST)
        conv = _funnel_conv(x_ptr, w_ptr, c, c_ok, s // W, s % W, s_ok, C, S,
                            H, W, KS, BLOCK_C, BLOCK_S, CHANNELS_LAST, ACC)
        d = tl.where(mask, conv - shift[:, None], 0.0)
        total += d
        squares += d * d
    row = _partial_row(n)
    tl.store(partial_ptr + c * ROWS + row, tl.sum(total, axis=1), mask=c_ok)
    tl.store(
        partial_ptr + (C + c) * ROWS + row, tl.sum(squares, axis=1), mask=c_ok)


@triton.jit(do_not_specialize=['C', 'ROWS'])
def _moments_kernel(partial_ptr, shift_ptr, mean_ptr, var_ptr,
                    running_mean_ptr, running_var_ptr, momentum, unbiased, C,
                    ROWS, inv_count, HAS_SHIFT: tl.constexpr,
                    UPDATE: tl.constexpr, BLOCK_C: tl.constexpr,
                    BLOCK_R: tl.constexpr, ACC: tl.constexpr):
    """Mean and biased variance of the conv from the shifted sums; with
    ``UPDATE`` also the running statistics (``unbiased = M / (M - 1)``)."""
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
    mean = tl.sum(total, axis=1) * inv_count
    var = tl.maximum(tl.sum(squares, axis=1) * inv_count - mean * mean, 0.0)
    if HAS_SHIFT:
        mean += tl.load(shift_ptr + c, mask=c_ok, other=0).to(ACC)
    tl.store(mean_ptr + c, mean, mask=c_ok)
    tl.store(var_ptr + c, var, mask=c_ok)
    if UPDATE:
        running_mean = tl.load(running_mean_ptr + c, mask=c_ok, other=0)
        running_var = tl.load(running_var_ptr + c, mask=c_ok, other=0)
        kind = running_mean.dtype
        tl.store(
            running_mean_ptr + c, (running_mean.to(ACC) * (1.0 - momentum) +
                                   mean * momentum).to(kind),
            mask=c_ok)
        tl.store(
            running_var_ptr + c, (running_var.to(ACC) * (1.0 - momentum) +
                                  var * unbiased * momentum).to(kind),
            mask=c_ok)


@triton.jit(do_not_specialize=['C', 'S', 'H', 'W', 'CHUNK'])
def _forward_kernel(x_ptr, y_ptr, w_ptr, bn_w_ptr, bn_b_ptr, mean_ptr, var_ptr,
                    eps, C, S, H, W, CHUNK, KS: tl.constexpr,
                    HAS_AFFINE: tl.constexpr, BLOCK_C: tl.constexpr,
                    BLOCK_S: tl.constexpr, CHANNELS_LAST: tl.constexpr,
                    ACC: tl.constexpr):
    """``y = max(x, t)`` of a chunk of positions."""
    n = row_sample(C, BLOCK_C)
    c = row_channels(C, BLOCK_C)
    c_ok = c < C
    mean, invstd, gamma, beta = _norm(bn_w_ptr, bn_b_ptr, mean_ptr, var_ptr,
                                      eps, c, c_ok, HAS_AFFINE, ACC)
    start = sample_start(n, C, S)
    x_ptr += start
    y_ptr += start
    first = tl.program_id(1) * CHUNK
    for position in range(first, first + CHUNK, BLOCK_S):
        s, s_ok, mask, offsets = row_tile(position, c, c_ok, C, S, BLOCK_S,
                                          CHANNELS_LAST)
        x = tl.load(x_ptr + offsets, mask=mask, other=0).to(ACC)
        conv = _funnel_conv(x_ptr, w_ptr, c, c_ok, s // W, s % W, s_ok, C, S,
                            H, W, KS, BLOCK_C, BLOCK_S, CHANNELS_LAST, ACC)
        scale = gamma * invstd
        t = conv * scale[:, None] + (beta - mean * scale)[:, None]
        tl.store(y_ptr + offsets, tl.where(t > x, t, x), mask=mask)


@triton.jit
def _partial_row(n):
    """Where a row program of sample ``n`` stores its chunk's per-channel
    sums: ``partial[q, c, n * chunks + chunk]`` (channel-major, so that they
    add up along the last dimension)."""
    return n * tl.num_programs(1) + tl.program_id(1)


@triton.jit
def _store_norm_sums(partial_ptr, n, c, c_ok, C, ROWS, sum_gt, sum_gtc):
    """Store a chunk's ``sum g_t`` and ``sum g_t c_hat``."""
    row = _partial_row(n)
    tl.store(partial_ptr + c * ROWS + row, tl.sum(sum_gt, axis=1), mask=c_ok)
    tl.store(
        partial_ptr + (C + c) * ROWS + row, tl.sum(sum_gtc, axis=1), mask=c_ok)


@triton.jit(do_not_specialize=['C', 'S', 'H', 'W', 'CHUNK', 'ROWS'])
def _norm_sums_kernel(x_ptr, g_ptr, w_ptr, bn_w_ptr, bn_b_ptr, mean_ptr,
                      var_ptr, eps, partial_ptr, C, S, H, W, CHUNK, ROWS,
                      KS: tl.constexpr, HAS_AFFINE: tl.constexpr,
                      BLOCK_C: tl.constexpr, BLOCK_S: tl.constexpr,
                      CHANNELS_LAST: tl.constexpr, ACC: tl.constexpr):
    """A chunk's batch-norm sums ``sum g_t`` and ``sum g_t c_hat``."""
    n = row_sample(C, BLOCK_C)
    c = row_channels(C, BLOCK_C)
    c_ok = c < C
    mean, invstd, gamma, beta = _norm(bn_w_ptr, bn_b_ptr, mean_ptr, var_ptr,
                                      eps, c, c_ok, HAS_AFFINE, ACC)
    start = sample_start(n, C, S)
    x_ptr += start
    g_ptr += start
    sum_gt = tl.zeros([BLOCK_C, BLOCK_S], dtype=ACC)
    sum_gtc = tl.zeros([BLOCK_C, BLOCK_S], dtype=ACC)
    first = tl.program_id(1) * CHUNK
    for position in range(first, first + CHUNK, BLOCK_S):
        s, s_ok, mask, offsets = row_tile(position, c, c_ok, C, S, BLOCK_S,
                                          CHANNELS_LAST)
        x = tl.load(x_ptr + offsets, mask=mask, other=0).to(ACC)
        grad = tl.load(g_ptr + offsets, mask=mask, other=0).to(ACC)
        conv = _funnel_conv(x_ptr, w_ptr, c, c_ok, s // W, s % W, s_ok, C, S,
                            H, W, KS, BLOCK_C, BLOCK_S, CHANNELS_LAST, ACC)
        grad_t = tl.where(
            _funnel_wins(conv, x, mean, invstd, gamma, beta), grad, 0.0)
        sum_gt += grad_t
        sum_gtc += grad_t * (conv - mean[:, None]) * invstd[:, None]
    _store_norm_sums(partial_ptr, n, c, c_ok, C, ROWS, sum_gt, sum_gtc)


@triton.jit(do_not_specialize=['C', 'S', 'H', 'W', 'CHUNK', 'ROWS'])
def _conv_gradient_kernel(x_ptr, g_ptr, grad_c_ptr, w_ptr, bn_w_ptr, bn_b_ptr,
                          mean_ptr, var_ptr, eps, sums_ptr, inv_count,
                          partial_ptr, C, S, H, W, CHUNK, ROWS,
                          KS: tl.constexpr, HAS_AFFINE: tl.constexpr,
                          BATCH_STATS: tl.constexpr, BLOCK_C: tl.constexpr,
                          BLOCK_S: tl.constexpr, CHANNELS_LAST: tl.constexpr,
                          ACC: tl.constexpr):
    """``grad_c`` of a chunk: with batch statistics from the finished sums;
    with running statistics it also stores the chunk's sums."""
    n = row_sample(C, BLOCK_C)
    c = row_channels(C, BLOCK_C)
    c_ok = c < C
    mean, invstd, gamma, beta = _norm(bn_w_ptr, bn_b_ptr, mean_ptr, var_ptr,
                                      eps, c, c_ok, HAS_AFFINE, ACC)
    mean_gt = tl.zeros([BLOCK_C], dtype=ACC)
    mean_gtc = tl.zeros([BLOCK_C], dtype=ACC)
    if BATCH_STATS:
        mean_gt = tl.load(sums_ptr + c, mask=c_ok, other=0).to(ACC) * inv_count
        mean_gtc = tl.load(
            sums_ptr + C + c, mask=c_ok, other=0).to(ACC) * inv_count
    sum_gt = tl.zeros([BLOCK_C, BLOCK_S], dtype=ACC)
    sum_gtc = tl.zeros([BLOCK_C, BLOCK_S], dtype=ACC)
    start = sample_start(n, C, S)
    x_ptr += start
    g_ptr += start
    grad_c_ptr += start
    first = tl.program_id(1) * CHUNK
    for position in range(first, first + CHUNK, BLOCK_S):
        s, s_ok, mask, offsets = row_tile(position, c, c_ok, C, S, BLOCK_S,
                                          CHANNELS_LAST)
        x = tl.load(x_ptr + offsets, mask=mask, other=0).to(ACC)
        grad = tl.load(g_ptr + offsets, mask=mask, other=0).to(ACC)
        conv = _funnel_conv(x_ptr, w_ptr, c, c_ok, s // W, s % W, s_ok, C, S,
                            H, W, KS, BLOCK_C, BLOCK_S, CHANNELS_LAST, ACC)
        grad_t = tl.where(
            _funnel_wins(conv, x, mean, invstd, gamma, beta), grad, 0.0)
        c_hat = (conv - mean[:, None]) * invstd[:, None]
        if BATCH_STATS:
            grad_t = grad_t - mean_gt[:, None] - c_hat * mean_gtc[:, None]
        else:
            sum_gt += grad_t
            sum_gtc += grad_t * c_hat
        tl.store(
            grad_c_ptr + offsets,
            grad_t * (gamma * invstd)[:, None],
            mask=mask)
    if not BATCH_STATS:
        _store_norm_sums(partial_ptr, n, c, c_ok, C, ROWS, sum_gt, sum_gtc)


@triton.jit(do_not_specialize=['C', 'S', 'H', 'W', 'CHUNK', 'ROWS'])
def _input_gradient_kernel(x_ptr, g_ptr, grad_c_ptr, gx_ptr, w_ptr, bn_w_ptr,
                           bn_b_ptr, mean_ptr, var_ptr, eps, w_partial_ptr, C,
                           S, H, W, CHUNK, ROWS, KS: tl.constexpr,
                           KKP: tl.constexpr, HAS_AFFINE: tl.constexpr,
                           BLOCK_C: tl.constexpr, BLOCK_S: tl.constexpr,
                           CHANNELS_LAST: tl.constexpr, ACC: tl.constexpr):
    """``grad_x = g [t <= x] + DWConv^T(grad_c)`` of a chunk, and its sums
    ``sum grad_c[p + (r - i, r - j)] x[p]`` for the conv weight's taps."""
    n = row_sample(C, BLOCK_C)
    c = row_channels(C, BLOCK_C)
    c_ok = c < C
    mean, invstd, gamma, beta = _norm(bn_w_ptr, bn_b_ptr, mean_ptr, var_ptr,
                                      eps, c, c_ok, HAS_AFFINE, ACC)
    start = sample_start(n, C, S)
    x_ptr += start
    g_ptr += start
    grad_c_ptr += start
    gx_ptr += start
    taps = tl.arange(0, KKP)
    w_sums = tl.zeros([BLOCK_C, KKP], dtype=ACC)
    first = tl.program_id(1) * CHUNK
    for position in range(first, first + CHUNK, BLOCK_S):
        s, s_ok, mask, offsets = row_tile(position, c, c_ok, C, S, BLOCK_S,
                                          CHANNELS_LAST)
        h = s // W
        w = s % W
        x = tl.load(x_ptr + offsets, mask=mask, other=0).to(ACC)
        grad = tl.load(g_ptr + offsets, mask=mask, other=0).to(ACC)
        conv = _funnel_conv(x_ptr, w_ptr, c, c_ok, h, w, s_ok, C, S, H, W, KS,
                            BLOCK_C, BLOCK_S, CHANNELS_LAST, ACC)
        grad_x = tl.where(
            _funnel_wins(conv, x, mean, invstd, gamma, beta), 0.0, grad)
        for i in tl.static_range(KS):
            for j in tl.static_range(KS):
                grad_c = _shifted(grad_c_ptr, c, c_ok, h, w, s_ok, KS // 2 - i,
                                  KS // 2 - j, C, S, H, W, CHANNELS_LAST, ACC)
                grad_x += _tap(w_ptr, c, c_ok, i, j, KS, ACC)[:, None] * grad_c
                tap_sum = tl.sum(grad_c * x, axis=1)
                w_sums = tl.where(taps[None, :] == i * KS + j,
                                  w_sums + tap_sum[:, None], w_sums)
        tl.store(gx_ptr + offsets, grad_x, mask=mask)
    row = _partial_row(n)
    tl.store(
        w_partial_ptr + (c[:, None] * (KS * KS) + taps[None, :]) * ROWS + row,
        w_sums,
        mask=c_ok[:, None] & (taps < KS * KS)[None, :])


def _norm_args(norm: FunnelNorm, mean: Tensor, var: Tensor) -> dict:
    return dict(
        bn_w_ptr=norm.weight,
        bn_b_ptr=norm.bias,
        mean_ptr=mean,
        var_ptr=var,
        eps=norm.eps,
        HAS_AFFINE=norm.weight is not None)


class _Triton:
    """The passes as Triton kernels."""

    @staticmethod
    def _geometry(x: Tensor, weight: Tensor, layer: str, parallel: bool):
        inp = kernel_input(x, layer)
        tiles = row_tiling(
            inp.c, inp.s, inp.channels_last, FUNNEL,
            programs_per_sample(inp.x.device, inp.n) if parallel else None)
        args = dict(
            row_launch(inp, tiles),
            H=x.shape[2],
            W=x.shape[3],
            KS=weight.shape[-1])
        return inp, tiles, args

    @classmethod
    def statistics(cls, x: Tensor, weight: Tensor, norm: FunnelNorm,
                   layer: str) -> Tuple[Tensor, Tensor]:
        """The conv's batch mean and biased variance, and the running
        statistics updated (``norm.momentum``)."""
        inp, tiles, args = cls._geometry(x, weight, layer, True)
        rows = inp.n * tiles.chunks
        dtype = acc_dtype(inp.x)
        partial = inp.x.new_empty((2, inp.c, rows), dtype=dtype)
        shift = norm.running_mean
        _statistics_kernel[tiles.grid(inp.n)](
            x_ptr=inp.x,
            w_ptr=weight,
            shift_ptr=shift,
            partial_ptr=partial,
            ROWS=rows,
            HAS_SHIFT=shift is not None,
            **args)
        mean = inp.x.new_empty(inp.c, dtype=dtype)
        var = torch.empty_like(mean)
        count = inp.n * inp.s
        block_c = min(next_power_of_2(inp.c), 64)
        _moments_kernel[(-(-inp.c // block_c), )](
            partial_ptr=partial,
            shift_ptr=shift,
            mean_ptr=mean,
            var_ptr=var,
            running_mean_ptr=norm.running_mean,
            running_var_ptr=norm.running_var,
            momentum=norm.momentum or 0.0,
            unbiased=count / max(count - 1, 1),
            C=inp.c,
            ROWS=rows,
            inv_count=1.0 / count,
            HAS_SHIFT=shift is not None,
            UPDATE=norm.momentum is not None,
            BLOCK_C=block_c,
            BLOCK_R=min(next_power_of_2(rows), 32),
            ACC=args['ACC'],
            num_warps=4)
        return mean, var

    @classmethod
    def forward(cls, x: Tensor, weight: Tensor, norm: FunnelNorm, mean: Tensor,
                var: Tensor, layer: str) -> Tensor:
        inp, tiles, args = cls._geometry(x, weight, layer, False)
        y = torch.empty_like(inp.x)
        _forward_kernel[tiles.grid(inp.n)](
            x_ptr=inp.x,
            y_ptr=y,
            w_ptr=weight,
            **_norm_args(norm, mean, var),
            **args)
        return y

    @classmethod
    def backward(cls, x: Tensor, grad_y: Tensor, weight: Tensor,
                 norm: FunnelNorm, mean: Tensor, var: Tensor,
                 layer: str) -> Tuple[Tensor, Tensor, Tensor]:
        """``(grad_x, grad_weight, sums (2, C))``, ``sums = (sum g_t, sum
        g_t c_hat)``."""
        inp, tiles, args = cls._geometry(x, weight, layer, True)
        rows = inp.n * tiles.chunks
        dtype = acc_dtype(inp.x)
        grid = tiles.grid(inp.n)
        norm_args = _norm_args(norm, mean, var)
        partial = inp.x.new_empty((2, inp.c, rows), dtype=dtype)
        sums = None
        if norm.batch_stats:  # grad_c needs the finished sums
            _norm_sums_kernel[grid](
                x_ptr=inp.x,
                g_ptr=grad_y,
                w_ptr=weight,
                partial_ptr=partial,
                ROWS=rows,
                **norm_args,
                **args)
            sums = partial.sum(-1)
        grad_c = torch.empty_like(inp.x)
        _conv_gradient_kernel[grid](
            x_ptr=inp.x,
            g_ptr=grad_y,
            grad_c_ptr=grad_c,
            w_ptr=weight,
            sums_ptr=sums,
            inv_count=1.0 / (inp.n * inp.s),
            partial_ptr=partial,
            ROWS=rows,
            BATCH_STATS=norm.batch_stats,
            **norm_args,
            **args)
        if sums is None:
            sums = partial.sum(-1)
        ks = weight.shape[-1]
        w_partial = inp.x.new_empty((inp.c, ks * ks, rows), dtype=dtype)
        grad_x = torch.empty_like(inp.x)
        _input_gradient_kernel[grid](
            x_ptr=inp.x,
            g_ptr=grad_y,
            grad_c_ptr=grad_c,
            gx_ptr=grad_x,
            w_ptr=weight,
            w_partial_ptr=w_partial,
            ROWS=rows,
            KKP=next_power_of_2(ks * ks),
            **norm_args,
            **dict(args, num_warps=FUNNEL_TRANSPOSED.warps))
        return grad_x, w_partial.sum(-1), sums


# ------------------------------------------------------------ torch form


def _conv(x: Tensor, weight: Tensor) -> Tensor:
    return F.conv2d(
        x,
        weight.to(x.dtype),
        padding=weight.shape[-1] // 2,
        groups=x.shape[1])


def _channel_sum(t: Tensor, channel_dim: int) -> Tensor:
    """Sum of a 3D view per channel: positions first (contiguous), then the
    samples (inductor fuses this far better than one reduction over both)."""
    return t.sum(3 - channel_dim).sum(0)


def _scale_shift(norm: FunnelNorm, mean: Tensor, var: Tensor,
                 dtype: torch.dtype):
    """``(scale, shift, invstd, gamma)`` per channel: ``t = scale c +
    shift``."""
    invstd = torch.rsqrt(var.to(dtype) + norm.eps)
    gamma = torch.ones_like(invstd) if norm.weight is None else \
        norm.weight.to(dtype)
    scale = gamma * invstd
    shift = -mean.to(dtype) * scale
    if norm.bias is not None:
        shift = shift + norm.bias.to(dtype)
    return scale, shift, invstd, gamma


#: ``id(weight) -> (weak reference, versions, folded conv)`` of each funnel
#: weight folded with running statistics
_FOLDED: Dict[int, tuple] = {}


def _folded_conv(weight: Tensor, norm: FunnelNorm, mean: Tensor, var: Tensor,
                 dtype: torch.dtype) -> Tuple[Tensor, Tensor]:
    """``(scale w, shift)`` in ``dtype``: the batch norm folded into the
    depthwise conv, kept while the running statistics and parameters it
    comes from are unchanged (evaluation). Inference tensors (parameters
    made under ``torch.inference_mode``) have no version counter to tell a
    change by, so their fold is made anew on every call."""
    versions = None
    sources = (weight, mean, var, norm.weight, norm.bias)
    if not norm.batch_stats and not any(t is not None and t.is_inference()
                                        for t in sources):
        versions = (dtype, norm.eps) + tuple(
            None if t is None else (id(t), t._version) for t in sources)
        found = _FOLDED.get(id(weight))
        if (found is not None and found[0]() is weight
                and found[1] == versions):
            return found[2]
    with torch.no_grad():
        scale, shift, _, _ = _scale_shift(norm, mean, var, acc_dtype(weight))
        folded = ((weight * scale.view(-1, 1, 1, 1)).to(dtype),
                  shift.to(dtype))
    if versions is not None:
        if id(weight) not in _FOLDED:
            weakref.finalize(weight, _FOLDED.pop, id(weight), None)
        _FOLDED[id(weight)] = (weakref.ref(weight), versions, folded)
    return folded


@torch_kernel
def _torch_moments(conv: Tensor) -> Tuple[Tensor, Tensor]:
    c3, channel_dim = as_3d(conv)
    c3 = c3.to(acc_dtype(conv))
    count = conv.numel() // conv.shape[1]
    mean = _channel_sum(c3, channel_dim) / count
    centred = c3 - per_channel(mean.view(1, -1), channel_dim)
    return mean, _channel_sum(centred * centred, channel_dim) / count


@torch_kernel
def _torch_norm_backward(x: Tensor, grad_y: Tensor, conv: Tensor,
                         scale: Tensor, shift: Tensor, mean: Tensor,
                         invstd: Tensor, gamma: Tensor, batch_stats: bool):
    """``(g [t <= x], grad_c, sums (2, C))``; written in the form that
    inductor compiles to one fast loop nest on CPU."""
    dtype = scale.dtype
    view = (1, -1, 1, 1)
    conv = conv.to(dtype)
    grad = grad_y.to(dtype)
    funnel_wins = conv * scale.view(view) + shift.view(view) > x.to(dtype)
    grad_t = torch.where(funnel_wins, grad, 0)
    grad_x = torch.where(funnel_wins, 0, grad).to(x.dtype)
    c_hat = (conv - mean.to(dtype).view(view)) * invstd.view(view)
    sum_gt = grad_t.sum((0, 2, 3))
    sum_gtc = (grad_t * c_hat).sum((0, 2, 3))
    if batch_stats:
        count = conv.numel() // conv.shape[1]
        mean_gt = sum_gt.view(view) / count
        mean_gtc = sum_gtc.view(view) / count
        grad_t = grad_t - mean_gt - c_hat * mean_gtc
    grad_c = (grad_t * (gamma * invstd).view(view)).to(x.dtype)
    return grad_x, grad_c, torch.stack([sum_gt, sum_gtc])


class _Torch:
    """The passes in plain PyTorch: the depthwise conv and its backward as
    aten ops (inductor would lower them to slower convolutions on CPU), the
    batch norm's statistics and backward ``compiled`` or ``eager``."""

    def __init__(self, form: str) -> None:
        self.form = form

    def statistics(self, x: Tensor, weight: Tensor, norm: FunnelNorm,
                   layer: str) -> Tuple[Tensor, Tensor]:
        mean, var = _torch_moments(self.form, _conv(x, weight))
        if norm.momentum is not None:
            count = x.numel() // x.shape[1]
            with torch.no_grad():
                norm.running_mean.lerp_(
                    mean.to(norm.running_mean.dtype), norm.momentum)
                norm.running_var.lerp_((var * (count / max(count - 1, 1))).to(
                    norm.running_var.dtype), norm.momentum)
        return mean, var

    def forward(self, x: Tensor, weight: Tensor, norm: FunnelNorm,
                mean: Tensor, var: Tensor, layer: str) -> Tensor:
        """The batch norm folded into the conv, ``t = DWConv_{scale w}(x) +
        shift``, and the max taken in place: two aten ops, one tensor."""
        folded, shift = _folded_conv(weight, norm, mean, var, x.dtype)
        t = match_layout(
            F.conv2d(
                x,
                folded,
                shift,
                padding=weight.shape[-1] // 2,
                groups=x.shape[1]), x)
        return torch.maximum(t, x, out=t)

    def backward(self, x: Tensor, grad_y: Tensor, weight: Tensor,
                 norm: FunnelNorm, mean: Tensor, var: Tensor, layer: str):
        dtype = acc_dtype(x)
        scale, shift, invstd, gamma = _scale_shift(norm, mean, var, dtype)
        grad_x, grad_c, sums = _torch_norm_backward(self.form, x, grad_y,
                                                    _conv(x, weight), scale,
                                                    shift, mean, invstd, gamma,
                                                    norm.batch_stats)
        k = weight.shape[-1] // 2
        grad_input, grad_weight, _ = torch.ops.aten.convolution_backward(
            grad_c, x, weight.to(x.dtype), None, [1, 1], [k, k], [1, 1], False,
            [0, 0], x.shape[1], [True, True, False])
        return grad_x.add_(grad_input), grad_weight, sums


_passes = FormPasses(_Triton(), _Torch)

# --------------------------------------------------------- the one node


def funnel_forward(passes, x: Tensor, weight: Tensor, norm: FunnelNorm,
                   layer: str) -> Tuple[Tensor, Tensor, Tensor]:
    """``(y, mean, var)``: the output and the statistics it used."""
    if norm.batch_stats:
        mean, var = passes.statistics(x, weight, norm, layer)
    else:
        mean, var = norm.running_mean, norm.running_var
    return passes.forward(x, weight, norm, mean, var, layer), mean, var


def funnel_backward(passes, x: Tensor, grad_y: Tensor, weight: Tensor,
                    norm: FunnelNorm, mean: Tensor, var: Tensor, layer: str):
    """``(grad_x, grad_weight, grad_bn_weight, grad_bn_bias)``, the last two
    None without an affine norm."""
    grad_x, grad_weight, sums = passes.backward(x, match_layout(grad_y, x),
                                                weight, norm, mean, var, layer)
    grad_weight = grad_weight.view_as(weight).to(weight.dtype)
    if norm.weight is None:
        return grad_x, grad_weight, None, None
    return (grad_x, grad_weight, sums[1].to(norm.weight.dtype),
            sums[0].to(norm.bias.dtype))


class FunnelMaxFunction(torch.autograd.Function):
    """One FReLU layer call: ``max(x, BN(DWConv(x)))`` keeping only ``x``."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bn_weight: Optional[Tensor],
                bn_bias: Optional[Tensor], norm: FunnelNorm,
                layer: str) -> Tensor:
        passes = _passes(x, layer)
        y, mean, var = funnel_forward(passes, x, weight, norm, layer)
        ctx.save_for_backward(x, weight, mean, var)
        ctx.passes, ctx.norm, ctx.layer = passes, norm, layer
        return y

    @staticmethod
    def backward(ctx, grad_y: Tensor):
        check_no_double_backward(ctx.layer)
        x, weight, mean, var = ctx.saved_tensors
        grads = funnel_backward(ctx.passes, x, grad_y, weight, ctx.norm, mean,
                                var, ctx.layer)
        return (*grads, None, None)


def funnel_max(x: Tensor,
               weight: Tensor,
               norm: FunnelNorm,
               layer: str = 'FReLU') -> Tensor:
    """``max(x, BN(DWConv(x)))`` as one node (see the module docstring).

    Args:
        x: Input ``(N, C, H, W)``, floating point.
        weight: Depthwise conv weight ``(C, 1, k, k)``, ``k`` odd (zero
            padding ``k // 2``, no bias).
        norm: The batch norm; its running statistics are updated in place
            when ``norm.momentum`` is set.
        layer: Name of the calling layer, for error messages.

    Returns:
        ``y``, shaped, typed and laid out like ``x``.
    """
    if not records_graph(x, weight, norm.weight, norm.bias):
        return funnel_forward(_passes(x, layer), x, weight, norm, layer)[0]
    return FunnelMaxFunction.apply(x, weight, norm.weight, norm.bias, norm,
                                   layer)


# ------------------------------------------- custom op (torch.compile)


@torch.library.custom_op('mmdynact::funnel_max', mutates_args=())
def _funnel_op(x: Tensor, weight: Tensor, bn_weight: Optional[Tensor],
               bn_bias: Optional[Tensor], running_mean: Optional[Tensor],
               running_var: Optional[Tensor], eps: float,
               batch_stats: bool) -> Tuple[Tensor, Tensor, Tensor]:
    norm = FunnelNorm(bn_weight, bn_bias, running_mean, running_var, eps,
                      batch_stats, None)
    y, mean, var = funnel_forward(_passes(x), x, weight, norm, 'FReLU')
    return y, mean.clone(), var.clone()


@_funnel_op.register_fake
def _(x, weight, bn_weight, bn_bias, running_mean, running_var, eps,
      batch_stats):
    if batch_stats:
        stats = x.new_empty(x.shape[1], dtype=acc_dtype(x))
    else:
        stats = torch.empty_like(running_mean)
    return torch.empty_like(x), stats, torch.empty_like(stats)


@torch.library.custom_op('mmdynact::funnel_max_backward', mutates_args=())
def _funnel_backward_op(x: Tensor, grad_y: Tensor, weight: Tensor,
                        bn_weight: Optional[Tensor], bn_bias: Optional[Tensor],
                        mean: Tensor, var: Tensor, eps: float,
                        batch_stats: bool) -> List[Tensor]:
    norm = FunnelNorm(bn_weight, bn_bias, None, None, eps, batch_stats, None)
    grads = funnel_backward(
        _passes(x), x, grad_y, weight, norm, mean, var, 'FReLU')
    # a custom op's outputs may not alias: the norm's two gradients are
    # views of one tensor of sums
    return [g.clone() for g in grads if g is not None]


@_funnel_backward_op.register_fake
def _(x, grad_y, weight, bn_weight, bn_bias, mean, var, eps, batch_stats):
    return [
        torch.empty_like(t) for t in (x, weight, bn_weight, bn_bias)
        if t is not None
    ]


def _setup_op_context(ctx, inputs, output):
    x, weight, bn_weight, bn_bias, _, _, eps, batch_stats = inputs
    ctx.save_for_backward(x, weight, bn_weight, bn_bias, output[1], output[2])
    ctx.eps, ctx.batch_stats = eps, batch_stats


def _op_backward(ctx, grad_y, *_):
    check_no_double_backward('FReLU (mmdynact::funnel_max)')
    x, weight, bn_weight, bn_bias, mean, var = ctx.saved_tensors
    grads = _funnel_backward_op(x, grad_y, weight, bn_weight, bn_bias, mean,
                                var, ctx.eps, ctx.batch_stats)
    found = iter(grads)
    return (*(None if t is None else next(found)
              for t in (x, weight, bn_weight, bn_bias)), None, None, None,
            None)


_funnel_op.register_autograd(_op_backward, setup_context=_setup_op_context)


def count_flops(shapes: List[Optional[Tuple[int, ...]]]) -> int:
    """FLOPs of ``mmdynact::funnel_max`` from its input shapes ``(x,
    weight, ...)``: per element, the ``k x k`` depthwise conv's
    multiply-adds, the batch norm's affine and the max."""
    return math.prod(shapes[0]) * (math.prod(shapes[1][-2:]) + 2)


def funnel_max_op(x: Tensor, weight: Tensor,
                  norm: FunnelNorm) -> Tuple[Tensor, Tensor, Tensor]:
    """The ``mmdynact::funnel_max`` custom op (for ``torch.compile``):
    ``(y, mean, var)``, the caller updates the running statistics."""
    return _funnel_op(x, weight, norm.weight, norm.bias, norm.running_mean,
                      norm.running_var, norm.eps, norm.batch_stats)


#: the node's custom op in the staged path (``torch.compile``, FLOP
#: counting), whose FLOPs :func:`count_flops` counts
FunnelMaxFunction.custom_op = 'mmdynact::funnel_max'
FunnelMaxFunction.count_flops = staticmethod(count_flops)
