"""DY-ReLU's ``y = [pi *] max_k(a_k x + b_k)``, as one node per layer call.

DY-ReLU (Chen et al., "Dynamic ReLU", ECCV 2020) computes, per sample ``n``
and channel ``c``, ``y = max_k(a[n, c, k] x + b[n, c, k])`` with

    a_k = init_a[k] + lambda_a * (2 sigmoid(theta_a[n, c, k]) - 1)
    b_k = init_b[k] + lambda_b * (2 sigmoid(theta_b[n, c, k]) - 1)

from the output ``theta`` ``(N, C' * 2 * K)`` of the hyper-function
(``C' = 1`` for DY-ReLU-A, whose coefficients are shared by all channels),
applied to the spatial mean. DY-ReLU-C scales the result by its spatial
attention ``pi >= 0`` (:mod:`.spatial_attention`) of the logits ``z =
norm(w . x + b)``, which factors out of the max.

One :class:`PiecewiseLinearMaxFunction` node per call keeps only ``x``
and small tensors; backward recomputes which piece wins. Passes, each one
kernel launch (DY-ReLU-C's in brackets):

* forward: the mean [and the projection ``w . x``]; the hyper-function on
  ``(N, C)`` [and the spatial norm, the softmax statistics]; ``y``;
* backward: per-(n, c) sums ``sum_s g x [k wins]`` and ``sum_s g [k
  wins]`` times ``lambda * 2 sigmoid'(theta)``, i.e. ``grad_theta`` once
  added up over chunks [a column pass that also gives ``grad_pi[n, s] =
  sum_c g m``; the softmax backward]; the hyper-function's backward; then
  ``grad_x = g pi slope + d_mean / S [+ d_z w_c]`` with the pooled [and
  projected] gradients folded in [and the projection weight's sums].

Inside ``torch.compile`` the layers compute ``theta`` (and ``z``) with
plain modules and call the ``mmdynact::piecewise_linear_max`` custom op,
whose backward is :func:`apply_backward`, built from the same passes.
"""
import math
from typing import List, NamedTuple, Optional, Tuple

import torch
from torch import Tensor

from .backend import FormPasses, torch_kernel
from .grad_checks import check_no_double_backward, records_graph
from .hyper_network import HyperNetwork
from .layout import acc_dtype, as_3d, from_3d, per_channel, per_position
from .pooling import (pooled_gradient, torch_mean, torch_mean_projection,
                      triton_mean, triton_mean_projection)
from .spatial_attention import (attention, attention_gamma, torch_attention,
                                torch_attention_backward, torch_softmax_stats,
                                triton_attention_backward,
                                triton_softmax_stats)
from .triton_support import (REDUCE, STREAM, TileShape, column_launch,
                             column_positions, column_tiling, kernel_input,
                             match_layout, next_power_of_2, partial_index,
                             programs_per_sample, row_channels, row_launch,
                             row_sample, row_tile, row_tiling, sample_start,
                             tile_offsets, tl, triton)

#: tiles of DY-ReLU-C's column pass, which keeps per-channel sums of each
#: piece and the attention's sum over channels: small, so that nothing
#: spills
ATTENTION_SUMS = TileShape(256, 64, 256, 4)


class Pieces(NamedTuple):
    """What makes ``a_k`` and ``b_k`` (see the module docstring), beside
    ``theta``."""
    init_a: Tensor
    init_b: Tensor
    lambda_a: float
    lambda_b: float

    @property
    def k(self) -> int:
        return self.init_a.numel()


class Attention(NamedTuple):
    """DY-ReLU-C's spatial attention: normalised logits ``z`` ``(N, S)``,
    their softmax statistics ``(N, 2)`` and the temperature."""
    z: Tensor
    stats: Tensor
    temperature: Tensor


# ---------------------------------------------------------------- Triton


@triton.jit
def _theta_row(n, c, C, K: tl.constexpr, SHARED: tl.constexpr):
    """Offset of each channel's ``2K`` values of ``theta``."""
    if SHARED:
        row = n * (2 * K) + c * 0
    else:
        row = (n * C + c) * (2 * K)
    return row


@triton.jit
def _coefficient(theta_ptr, row, index, init_ptr, k, scale, c_ok,
                 ACC: tl.constexpr):
    """``init[k] + scale * (2 sigmoid(theta[row + index]) - 1)``."""
    theta = tl.load(theta_ptr + row + index, mask=c_ok, other=0).to(ACC)
    return tl.load(init_ptr +
                   k).to(ACC) + scale * (2.0 * tl.sigmoid(theta) - 1.0)


@triton.jit
def _best_piece(x, theta_ptr, row, init_a_ptr, init_b_ptr, lambda_a, lambda_b,
                c_ok, K: tl.constexpr, ACC: tl.constexpr):
    """``(max_k(a_k x + b_k), winning k, its slope)``; ties go to the
    first piece."""
    a = _coefficient(theta_ptr, row, 0, init_a_ptr, 0, lambda_a, c_ok, ACC)
    b = _coefficient(theta_ptr, row, K, init_b_ptr, 0, lambda_b, c_ok, ACC)
    best = a[:, None] * x + b[:, None]
    winner = tl.zeros(best.shape, dtype=tl.int32)
    slope = tl.zeros(best.shape, dtype=ACC) + a[:, None]
    for k in tl.static_range(1, K):
        a = _coefficient(theta_ptr, row, k, init_a_ptr, k, lambda_a, c_ok, ACC)
        b = _coefficient(theta_ptr, row, K + k, init_b_ptr, k, lambda_b, c_ok,
                         ACC)
        value = a[:, None] * x + b[:, None]
        better = value > best
        best = tl.where(better, value, best)
        winner = tl.where(better, k, winner)
        slope = tl.where(better, a[:, None], slope)
    return best, winner, slope


@triton.jit
def _store_theta_sums(partial_ptr, index, theta_ptr, row, c_ok, sums_a, sums_b,
                      lambda_a, lambda_b, K: tl.constexpr, KP: tl.constexpr,
                      ACC: tl.constexpr):
    """Store per-channel sums ``[BLOCK_C, KP]`` of the slopes' and
    intercepts' pieces at ``partial[index, 2, K]``, times ``lambda * 2
    sigmoid'(theta)``: their total over chunks is ``grad_theta``."""
    k = tl.arange(0, KP)
    mask = c_ok[:, None] & (k < K)[None, :]
    for half in tl.static_range(2):
        at = row[:, None] + half * K + k[None, :]
        theta = tl.load(theta_ptr + at, mask=mask, other=0).to(ACC)
        sig = tl.sigmoid(theta)
        scale = 2.0 * sig * (1.0 - sig)
        if half == 0:
            value = sums_a * scale * lambda_a
        else:
            value = sums_b * scale * lambda_b
        tl.store(
            partial_ptr + index[:, None] * (2 * K) + half * K + k[None, :],
            value,
            mask=mask)


@triton.jit
def _add_piece_sums(sums_a, sums_b, grad, x, winner, K: tl.constexpr,
                    KP: tl.constexpr):
    """Add a tile's ``sum_s g x [k wins]`` and ``sum_s g [k wins]`` to the
    running ``[BLOCK_C, KP]`` sums."""
    k_index = tl.arange(0, KP)
    for k in tl.static_range(K):
        wins = winner == k
        sum_a = tl.sum(tl.where(wins, grad * x, 0.0), axis=1)
        sum_b = tl.sum(tl.where(wins, grad, 0.0), axis=1)
        here = k_index[None, :] == k
        sums_a = tl.where(here, sums_a + sum_a[:, None], sums_a)
        sums_b = tl.where(here, sums_b + sum_b[:, None], sums_b)
    return sums_a, sums_b


@triton.jit(do_not_specialize=['C', 'S', 'CHUNK'])
def _forward_kernel(x_ptr, y_ptr, theta_ptr, init_a_ptr, init_b_ptr, lambda_a,
                    lambda_b, z_ptr, stats_ptr, tau_ptr, gamma, C, S, CHUNK,
                    K: tl.constexpr, SHARED: tl.constexpr,
                    HAS_PI: tl.constexpr, BLOCK_C: tl.constexpr,
                    BLOCK_S: tl.constexpr, CHANNELS_LAST: tl.constexpr,
                    ACC: tl.constexpr):
    """``y`` of a chunk of positions."""
    n = row_sample(C, BLOCK_C)
    c = row_channels(C, BLOCK_C)
    c_ok = c < C
    row = _theta_row(n, c, C, K, SHARED)
    start = sample_start(n, C, S)
    x_ptr += start
    y_ptr += start
    first = tl.program_id(1) * CHUNK
    for position in range(first, first + CHUNK, BLOCK_S):
        s, s_ok, mask, offsets = row_tile(position, c, c_ok, C, S, BLOCK_S,
                                          CHANNELS_LAST)
        x = tl.load(x_ptr + offsets, mask=mask, other=0).to(ACC)
        y, _, _ = _best_piece(x, theta_ptr, row, init_a_ptr, init_b_ptr,
                              lambda_a, lambda_b, c_ok, K, ACC)
        if HAS_PI:
            y = y * attention(z_ptr, stats_ptr, tau_ptr, gamma, n, s, s_ok, S,
                              ACC)[None, :]
        tl.store(y_ptr + offsets, y, mask=mask)


@triton.jit(do_not_specialize=['C', 'S', 'CHUNK'])
def _sums_kernel(x_ptr, g_ptr, theta_ptr, init_a_ptr, init_b_ptr, lambda_a,
                 lambda_b, partial_ptr, C, S, CHUNK, K: tl.constexpr,
                 KP: tl.constexpr, SHARED: tl.constexpr, BLOCK_C: tl.constexpr,
                 BLOCK_S: tl.constexpr, CHANNELS_LAST: tl.constexpr,
                 ACC: tl.constexpr):
    """DY-ReLU-A/B: a chunk's share of ``grad_theta`` per channel."""
    n = row_sample(C, BLOCK_C)
    c = row_channels(C, BLOCK_C)
    c_ok = c < C
    row = _theta_row(n, c, C, K, SHARED)
    start = sample_start(n, C, S)
    x_ptr += start
    g_ptr += start
    sums_a = tl.zeros([BLOCK_C, KP], dtype=ACC)
    sums_b = tl.zeros([BLOCK_C, KP], dtype=ACC)
    first = tl.program_id(1) * CHUNK
    for position in range(first, first + CHUNK, BLOCK_S):
        s, s_ok, mask, offsets = row_tile(position, c, c_ok, C, S, BLOCK_S,
                                          CHANNELS_LAST)
        x = tl.load(x_ptr + offsets, mask=mask, other=0).to(ACC)
        grad = tl.load(g_ptr + offsets, mask=mask, other=0).to(ACC)
        _, winner, _ = _best_piece(x, theta_ptr, row, init_a_ptr, init_b_ptr,
                                   lambda_a, lambda_b, c_ok, K, ACC)
        sums_a, sums_b = _add_piece_sums(sums_a, sums_b, grad, x, winner, K,
                                         KP)
    _store_theta_sums(partial_ptr, partial_index(n, c, C), theta_ptr, row,
                      c_ok, sums_a, sums_b, lambda_a, lambda_b, K, KP, ACC)


@triton.jit(do_not_specialize=['C', 'S'])
def _attention_sums_kernel(x_ptr, g_ptr, theta_ptr, init_a_ptr, init_b_ptr,
                           lambda_a, lambda_b, z_ptr, stats_ptr, tau_ptr,
                           gamma, partial_ptr, grad_pi_ptr, C, S,
                           K: tl.constexpr, KP: tl.constexpr,
                           BLOCK_C: tl.constexpr, BLOCK_S: tl.constexpr,
                           CHANNELS_LAST: tl.constexpr, ACC: tl.constexpr):
    """DY-ReLU-C, a column pass: ``grad_pi[n, s] = sum_c g m`` complete, and
    a block of positions' share of ``grad_theta`` per channel."""
    n = tl.program_id(0)
    s = column_positions(BLOCK_S)
    s_ok = s < S
    pi = attention(z_ptr, stats_ptr, tau_ptr, gamma, n, s, s_ok, S, ACC)
    start = sample_start(n, C, S)
    x_ptr += start
    g_ptr += start
    grad_pi = tl.zeros([BLOCK_S], dtype=ACC)
    for first in range(0, C, BLOCK_C):
        c = first + tl.arange(0, BLOCK_C)
        c_ok = c < C
        mask = c_ok[:, None] & s_ok[None, :]
        offsets = tile_offsets(c, s, C, S, CHANNELS_LAST)
        x = tl.load(x_ptr + offsets, mask=mask, other=0).to(ACC)
        grad = tl.load(g_ptr + offsets, mask=mask, other=0).to(ACC)
        row = _theta_row(n, c, C, K, False)
        best, winner, _ = _best_piece(x, theta_ptr, row, init_a_ptr,
                                      init_b_ptr, lambda_a, lambda_b, c_ok, K,
                                      ACC)
        grad_pi += tl.sum(grad * best, axis=0)
        sums_a = tl.zeros([BLOCK_C, KP], dtype=ACC)
        sums_b = tl.zeros([BLOCK_C, KP], dtype=ACC)
        sums_a, sums_b = _add_piece_sums(sums_a, sums_b, grad * pi[None, :], x,
                                         winner, K, KP)
        _store_theta_sums(partial_ptr, partial_index(n, c, C), theta_ptr, row,
                          c_ok, sums_a, sums_b, lambda_a, lambda_b, K, KP, ACC)
    tl.store(grad_pi_ptr + n.to(tl.int64) * S + s, grad_pi, mask=s_ok)


@triton.jit(do_not_specialize=['C', 'S', 'CHUNK'])
def _input_gradient_kernel(x_ptr, g_ptr, gx_ptr, theta_ptr, init_a_ptr,
                           init_b_ptr, lambda_a, lambda_b, z_ptr, stats_ptr,
                           tau_ptr, gamma, d_mean_ptr, d_z_ptr, w_ptr,
                           w_partial_ptr, C, S, CHUNK, inv_s, K: tl.constexpr,
                           SHARED: tl.constexpr, HAS_PI: tl.constexpr,
                           POOLED: tl.constexpr, PROJECTED: tl.constexpr,
                           BLOCK_C: tl.constexpr, BLOCK_S: tl.constexpr,
                           CHANNELS_LAST: tl.constexpr, ACC: tl.constexpr):
    """``grad_x = g pi slope [+ d_mean / S] [+ d_z w_c]`` of a chunk, and
    with the projection the chunk's sums ``sum_s d_z x`` for its weight."""
    n = row_sample(C, BLOCK_C)
    c = row_channels(C, BLOCK_C)
    c_ok = c < C
    row = _theta_row(n, c, C, K, SHARED)
    pooled = tl.zeros([BLOCK_C], dtype=ACC)
    if POOLED:
        pooled = pooled_gradient(d_mean_ptr, n, c, C, c_ok, inv_s, ACC)
    w = tl.zeros([BLOCK_C], dtype=ACC)
    w_sums = tl.zeros([BLOCK_C, BLOCK_S], dtype=ACC)
    if PROJECTED:
        w = tl.load(w_ptr + c, mask=c_ok, other=0).to(ACC)
    start = sample_start(n, C, S)
    x_ptr += start
    g_ptr += start
    gx_ptr += start
    first = tl.program_id(1) * CHUNK
    for position in range(first, first + CHUNK, BLOCK_S):
        s, s_ok, mask, offsets = row_tile(position, c, c_ok, C, S, BLOCK_S,
                                          CHANNELS_LAST)
        x = tl.load(x_ptr + offsets, mask=mask, other=0).to(ACC)
        grad = tl.load(g_ptr + offsets, mask=mask, other=0).to(ACC)
        _, _, slope = _best_piece(x, theta_ptr, row, init_a_ptr, init_b_ptr,
                                  lambda_a, lambda_b, c_ok, K, ACC)
        if HAS_PI:
            grad = grad * attention(z_ptr, stats_ptr, tau_ptr, gamma, n, s,
                                    s_ok, S, ACC)[None, :]
        grad_x = grad * slope + pooled[:, None]
        if PROJECTED:
            d_z = tl.load(
                d_z_ptr + n.to(tl.int64) * S + s, mask=s_ok, other=0).to(ACC)
            grad_x += d_z[None, :] * w[:, None]
            w_sums += d_z[None, :] * x
        tl.store(gx_ptr + offsets, grad_x, mask=mask)
    if PROJECTED:
        tl.store(
            w_partial_ptr + partial_index(n, c, C),
            tl.sum(w_sums, axis=1),
            mask=c_ok)


def _attention_args(attn: Optional[Attention], s: int) -> dict:
    if attn is None:
        return dict(z_ptr=None, stats_ptr=None, tau_ptr=None, gamma=0.0)
    return dict(
        z_ptr=attn.z,
        stats_ptr=attn.stats,
        tau_ptr=attn.temperature,
        gamma=attention_gamma(s))


def _piece_args(theta: Tensor, pieces: Pieces) -> dict:
    return dict(
        theta_ptr=theta,
        init_a_ptr=pieces.init_a,
        init_b_ptr=pieces.init_b,
        lambda_a=pieces.lambda_a,
        lambda_b=pieces.lambda_b,
        K=pieces.k)


def _shared(theta: Tensor, pieces: Pieces) -> bool:
    """Whether one set of coefficients serves all channels (DY-ReLU-A)."""
    return theta.shape[1] == 2 * pieces.k


def _theta_from_sums(partial: Tensor, shared: bool) -> Tensor:
    """``grad_theta`` ``(N, C' * 2K)`` from the ``(N, C, parts, 2K)``
    sums."""
    if shared:
        return partial.sum((1, 2))
    if partial.shape[2] == 1:
        return partial.view(partial.shape[0], -1)
    return partial.sum(2).view(partial.shape[0], -1)


class _Triton:
    """The passes as Triton kernels."""

    @staticmethod
    def mean(x: Tensor, layer: str) -> Tensor:
        return triton_mean(kernel_input(x, layer))

    @staticmethod
    def mean_projection(x: Tensor, weight: Tensor, bias: Tensor,
                        layer: str) -> Tuple[Tensor, Tensor]:
        return triton_mean_projection(kernel_input(x, layer), weight, bias)

    @staticmethod
    def softmax_stats(z: Tensor, temperature: Tensor) -> Tensor:
        return triton_softmax_stats(z, temperature)

    @staticmethod
    def forward(x: Tensor, theta: Tensor, pieces: Pieces,
                attn: Optional[Attention], layer: str) -> Tensor:
        inp = kernel_input(x, layer)
        tiles = row_tiling(inp.c, inp.s, inp.channels_last, STREAM, None)
        y = torch.empty_like(inp.x)
        _forward_kernel[tiles.grid(inp.n)](
            x_ptr=inp.x,
            y_ptr=y,
            **_piece_args(theta, pieces),
            **_attention_args(attn, inp.s),
            SHARED=_shared(theta, pieces),
            HAS_PI=attn is not None,
            **row_launch(inp, tiles))
        return y

    @staticmethod
    def theta_gradient(x: Tensor, grad_y: Tensor, theta: Tensor,
                       pieces: Pieces, layer: str) -> Tensor:
        inp = kernel_input(x, layer)
        tiles = row_tiling(inp.c, inp.s, inp.channels_last, REDUCE,
                           programs_per_sample(inp.x.device, inp.n))
        partial = inp.x.new_empty((inp.n, inp.c, tiles.chunks, 2 * pieces.k),
                                  dtype=acc_dtype(inp.x))
        shared = _shared(theta, pieces)
        _sums_kernel[tiles.grid(inp.n)](
            x_ptr=inp.x,
            g_ptr=grad_y,
            **_piece_args(theta, pieces),
            partial_ptr=partial,
            KP=next_power_of_2(pieces.k),
            SHARED=shared,
            **row_launch(inp, tiles))
        return _theta_from_sums(partial, shared)

    @staticmethod
    def attention_gradients(x: Tensor, grad_y: Tensor, theta: Tensor,
                            pieces: Pieces, attn: Attention,
                            layer: str) -> Tuple[Tensor, Tensor]:
        """``(grad_theta, grad_z)``."""
        inp = kernel_input(x, layer)
        tiles = column_tiling(inp.c, inp.s, inp.channels_last, ATTENTION_SUMS)
        dtype = acc_dtype(inp.x)
        partial = inp.x.new_empty((inp.n, inp.c, tiles.s_blocks, 2 * pieces.k),
                                  dtype=dtype)
        grad_pi = inp.x.new_empty((inp.n, inp.s), dtype=dtype)
        _attention_sums_kernel[tiles.grid(inp.n)](
            x_ptr=inp.x,
            g_ptr=grad_y,
            **_piece_args(theta, pieces),
            **_attention_args(attn, inp.s),
            partial_ptr=partial,
            grad_pi_ptr=grad_pi,
            KP=next_power_of_2(pieces.k),
            **column_launch(inp, tiles))
        grad_z = triton_attention_backward(grad_pi, attn.z, attn.stats,
                                           attn.temperature)
        return _theta_from_sums(partial, False), grad_z

    @staticmethod
    def input_gradient(x: Tensor, grad_y: Tensor, theta: Tensor,
                       pieces: Pieces, attn: Optional[Attention],
                       d_mean: Optional[Tensor], d_z: Optional[Tensor],
                       weight: Optional[Tensor],
                       layer: str) -> Tuple[Tensor, Optional[Tensor]]:
        """``(grad_x, grad_weight or None)``."""
        inp = kernel_input(x, layer)
        projected = d_z is not None
        tiles = row_tiling(
            inp.c, inp.s, inp.channels_last, STREAM,
            programs_per_sample(inp.x.device, inp.n) if projected else None)
        grad_x = torch.empty_like(inp.x)
        w_partial = None
        if projected:
            w_partial = inp.x.new_empty((inp.n, inp.c, tiles.chunks),
                                        dtype=acc_dtype(inp.x))
        _input_gradient_kernel[tiles.grid(inp.n)](
            x_ptr=inp.x,
            g_ptr=grad_y,
            gx_ptr=grad_x,
            **_piece_args(theta, pieces),
            **_attention_args(attn, inp.s),
            d_mean_ptr=d_mean,
            d_z_ptr=d_z,
            w_ptr=weight,
            w_partial_ptr=w_partial,
            inv_s=1.0 / inp.s,
            SHARED=_shared(theta, pieces),
            HAS_PI=attn is not None,
            POOLED=d_mean is not None,
            PROJECTED=projected,
            **row_launch(inp, tiles))
        grad_weight = None
        if projected:
            grad_weight = w_partial.sum(
                (0, 2)).view_as(weight).to(weight.dtype)
        return grad_x, grad_weight


# ------------------------------------------------------------ torch form


def _torch_pieces(x3: Tensor, channel_dim: int, theta: Tensor, pieces: Pieces):
    """``(pieces a_k x + b_k, slopes a_k)``, broadcast against ``x3``."""
    k = pieces.k
    residual = 2 * torch.sigmoid(
        theta.reshape(theta.shape[0], -1, 2, k).to(x3.dtype)) - 1
    a = pieces.init_a.to(x3.dtype) + pieces.lambda_a * residual[:, :, 0]
    b = pieces.init_b.to(x3.dtype) + pieces.lambda_b * residual[:, :, 1]
    slopes = [per_channel(a[..., i], channel_dim) for i in range(k)]
    values = [
        x3 * slope + per_channel(b[..., i], channel_dim)
        for i, slope in enumerate(slopes)
    ]
    return values, slopes


def _torch_choice(values):
    """``(max, masks of the winning piece)``; ties go to the first piece."""
    best = values[0]
    for value in values[1:]:
        best = torch.maximum(best, value)
    chosen, taken = [], None
    for value in values:
        wins = value == best
        chosen.append(wins if taken is None else wins & ~taken)
        taken = chosen[-1] if taken is None else taken | chosen[-1]
    return best, chosen


def _torch_slope(slopes, chosen):
    slope = slopes[-1]
    for k in range(len(slopes) - 2, -1, -1):
        slope = torch.where(chosen[k], slopes[k], slope)
    return slope


@torch_kernel
def _torch_forward(x: Tensor, theta: Tensor, pieces: Pieces,
                   z: Optional[Tensor], stats: Optional[Tensor],
                   temperature: Optional[Tensor]) -> Tensor:
    x3, channel_dim = as_3d(x)
    values, _ = _torch_pieces(x3.to(acc_dtype(x)), channel_dim, theta, pieces)
    y = values[0]
    for value in values[1:]:
        y = torch.maximum(y, value)
    if z is not None:
        pi = torch_attention(z.to(y.dtype), stats, temperature)
        y = y * per_position(pi, channel_dim)
    return from_3d(y.to(x.dtype), x, channel_dim)


@torch_kernel
def _torch_theta_gradient(x: Tensor, grad_y: Tensor, theta: Tensor,
                          pieces: Pieces, z: Optional[Tensor],
                          stats: Optional[Tensor],
                          temperature: Optional[Tensor]):
    """``(grad_theta, grad_pi (N, S) or None)``."""
    dtype = acc_dtype(x)
    x3, channel_dim = as_3d(x)
    x3 = x3.to(dtype)
    grad = as_3d(grad_y)[0].to(dtype)
    values, _ = _torch_pieces(x3, channel_dim, theta, pieces)
    best, chosen = _torch_choice(values)
    grad_pi = None
    if z is not None:
        grad_pi = (grad * best).sum(channel_dim)
        pi = torch_attention(z.to(dtype), stats, temperature)
        grad = grad * per_position(pi, channel_dim)
    spatial_dim = 3 - channel_dim
    grad_times_x = grad * x3
    sums_a = torch.stack([
        torch.where(wins, grad_times_x, 0).sum(spatial_dim) for wins in chosen
    ], -1)
    sums_b = torch.stack(
        [torch.where(wins, grad, 0).sum(spatial_dim) for wins in chosen], -1)
    k = pieces.k
    sig = torch.sigmoid(theta.reshape(theta.shape[0], -1, 2, k).to(dtype))
    grad_theta = torch.stack(
        [sums_a * pieces.lambda_a, sums_b * pieces.lambda_b], 2) * (2 * sig *
                                                                    (1 - sig))
    return grad_theta.reshape(theta.shape), grad_pi


@torch_kernel
def _torch_input_gradient(x: Tensor, grad_y: Tensor, theta: Tensor,
                          pieces: Pieces, z: Optional[Tensor],
                          stats: Optional[Tensor],
                          temperature: Optional[Tensor],
                          d_mean: Optional[Tensor], d_z: Optional[Tensor],
                          weight: Optional[Tensor]):
    """``(grad_x, grad_weight or None)``."""
    dtype = acc_dtype(x)
    x3, channel_dim = as_3d(x)
    x3 = x3.to(dtype)
    grad = as_3d(grad_y)[0].to(dtype)
    values, slopes = _torch_pieces(x3, channel_dim, theta, pieces)
    _, chosen = _torch_choice(values)
    if z is not None:
        pi = torch_attention(z.to(dtype), stats, temperature)
        grad = grad * per_position(pi, channel_dim)
    grad_x = grad * _torch_slope(slopes, chosen)
    if d_mean is not None:
        grad_x = grad_x + per_channel(
            d_mean.to(dtype) / x3.shape[3 - channel_dim], channel_dim)
    grad_weight = None
    if d_z is not None:
        d_z3 = per_position(d_z.to(dtype), channel_dim)
        grad_x = grad_x + d_z3 * per_channel(
            weight.reshape(1, -1).to(dtype), channel_dim)
        grad_weight = (d_z3 * x3).sum(
            (0, 3 - channel_dim)).view_as(weight).to(weight.dtype)
    return from_3d(grad_x.to(x.dtype), x, channel_dim), grad_weight


def _for_each_channel(theta: Tensor, channels: int) -> Tensor:
    """DY-ReLU-A's coefficients ``(N, 2K)``, shared by all channels, written
    out for each of ``channels``, ``(N, C * 2K)``: inductor compiles loops
    over per-(n, c) coefficients faster than its broadcast of per-sample
    ones (the forward and the theta gradient of DY-ReLU-A, about 1.1x and
    2x at 16x64x56x56 on CPU)."""
    n = theta.shape[0]
    return theta.view(n, 1, -1).expand(n, channels, -1).reshape(n, -1)


class _Torch:
    """The passes in plain PyTorch, ``compiled`` or ``eager``. DY-ReLU-A's
    forward and theta gradient run as DY-ReLU-B's on its coefficients
    written out per channel (:func:`_for_each_channel`)."""

    def __init__(self, form: str) -> None:
        self.form = form

    def mean(self, x: Tensor, layer: str) -> Tensor:
        return torch_mean(self.form, x)

    def mean_projection(self, x: Tensor, weight: Tensor, bias: Tensor,
                        layer: str) -> Tuple[Tensor, Tensor]:
        return torch_mean_projection(self.form, x, weight, bias)

    def softmax_stats(self, z: Tensor, temperature: Tensor) -> Tensor:
        return torch_softmax_stats(z, temperature)

    def forward(self, x: Tensor, theta: Tensor, pieces: Pieces,
                attn: Optional[Attention], layer: str) -> Tensor:
        if _shared(theta, pieces):
            theta = _for_each_channel(theta, x.shape[1])
        return _torch_forward(self.form, x, theta, pieces,
                              *(attn or (None, ) * 3))

    def theta_gradient(self, x: Tensor, grad_y: Tensor, theta: Tensor,
                       pieces: Pieces, layer: str) -> Tensor:
        if not _shared(theta, pieces):
            return _torch_theta_gradient(self.form, x, grad_y, theta, pieces,
                                         None, None, None)[0]
        grad = _torch_theta_gradient(self.form, x, grad_y,
                                     _for_each_channel(theta, x.shape[1]),
                                     pieces, None, None, None)[0]
        return grad.view(theta.shape[0], x.shape[1], -1).sum(1)

    def attention_gradients(self, x: Tensor, grad_y: Tensor, theta: Tensor,
                            pieces: Pieces, attn: Attention,
                            layer: str) -> Tuple[Tensor, Tensor]:
        grad_theta, grad_pi = _torch_theta_gradient(self.form, x, grad_y,
                                                    theta, pieces, *attn)
        return grad_theta, torch_attention_backward(grad_pi, *attn)

    def input_gradient(self, x: Tensor, grad_y: Tensor, theta: Tensor,
                       pieces: Pieces, attn: Optional[Attention],
                       d_mean: Optional[Tensor], d_z: Optional[Tensor],
                       weight: Optional[Tensor], layer: str):
        return _torch_input_gradient(self.form, x, grad_y, theta, pieces,
                                     *(attn or (None, ) * 3), d_mean, d_z,
                                     weight)


_passes = FormPasses(_Triton(), _Torch)

# --------------------------------------------------------- the one node


class SpatialAttention(NamedTuple):
    """DY-ReLU-C's attention branch: the 1x1 projection ``(C, ) -> 1``, the
    network normalising its output (the spatial norm) and the softmax
    temperature."""
    weight: Tensor
    bias: Tensor
    norm: HyperNetwork
    temperature: Tensor


def _theta_gradient_and_z(passes, x: Tensor, grad_y: Tensor, theta: Tensor,
                          pieces: Pieces, attn: Optional[Attention],
                          layer: str):
    """``(grad_theta, grad_z or None)``."""
    if attn is None:
        return passes.theta_gradient(x, grad_y, theta, pieces, layer), None
    return passes.attention_gradients(x, grad_y, theta, pieces, attn, layer)


def dynamic_relu_forward(passes, x: Tensor, pieces: Pieces,
                         network: HyperNetwork,
                         spatial: Optional[SpatialAttention], layer: str):
    """``(y, theta, attention or None, network state, spatial norm
    state)``."""
    if spatial is None:
        mean = passes.mean(x, layer)
        attn = z_state = None
    else:
        mean, z = passes.mean_projection(x, spatial.weight, spatial.bias,
                                         layer)
        z, z_state = spatial.norm.forward(
            z.to(spatial.weight.dtype).view((x.shape[0], 1) + x.shape[2:]))
        z = z.view(x.shape[0], -1)
        attn = Attention(z, passes.softmax_stats(z, spatial.temperature),
                         spatial.temperature)
    theta, state = network.forward(mean.to(network.parameters[0].dtype))
    y = passes.forward(x, theta, pieces, attn, layer)
    return y, theta, attn, state, z_state


class PiecewiseLinearMaxFunction(torch.autograd.Function):
    """One DY-ReLU layer call: pooling [and projection], hyper-function
    [and spatial norm and softmax], ``y``; and all their gradients."""

    @staticmethod
    def forward(ctx, x: Tensor, pieces: Pieces, network: HyperNetwork,
                spatial: Optional[SpatialAttention], layer: str, *parameters:
                Tensor) -> Tensor:
        passes = _passes(x, layer)
        y, theta, attn, ctx.state, ctx.z_state = dynamic_relu_forward(
            passes, x, pieces, network, spatial, layer)
        ctx.passes, ctx.pieces, ctx.layer = passes, pieces, layer
        ctx.network, ctx.spatial = network, spatial
        ctx.save_for_backward(x, theta, *(attn or ()))
        return y

    @staticmethod
    def backward(ctx, grad_y: Tensor):
        check_no_double_backward(ctx.layer)
        x, theta, *attention_tensors = ctx.saved_tensors
        attn = Attention(*attention_tensors) if attention_tensors else None
        passes, pieces, layer = ctx.passes, ctx.pieces, ctx.layer
        network, spatial = ctx.network, ctx.spatial
        grad_y = match_layout(grad_y, x)
        need_x = ctx.needs_input_grad[0]
        needs = ctx.needs_input_grad[5:]
        count = len(network.parameters)
        grad_theta, grad_z = _theta_gradient_and_z(passes, x, grad_y, theta,
                                                   pieces, attn, layer)
        d_mean, grads = network.backward(ctx.state, grad_theta.to(theta.dtype),
                                         need_x, needs[:count])
        d_z = weight = None
        need_weight = False
        if spatial is not None:
            weight = spatial.weight
            need_weight, need_bias = needs[count:count + 2]
            d_z, norm_grads = spatial.norm.backward(
                ctx.z_state,
                grad_z.view((x.shape[0], 1) + x.shape[2:]).to(weight.dtype),
                True, needs[count + 2:])
            d_z = d_z.reshape(grad_z.shape)
            grads += [
                None,
                d_z.sum().view_as(spatial.bias) if need_bias else None
            ] + norm_grads
        grad_x = None
        if need_x or need_weight:
            grad_x, grad_weight = passes.input_gradient(
                x, grad_y, theta, pieces, attn, d_mean, d_z, weight, layer)
            if need_weight:
                grads[count] = grad_weight
        return (grad_x if need_x else None, None, None, None, None, *grads)


def dynamic_relu(x: Tensor,
                 pieces: Pieces,
                 network: HyperNetwork,
                 spatial: Optional[SpatialAttention] = None,
                 layer: str = 'DyReLU') -> Tensor:
    """A DY-ReLU layer's output as one autograd node.

    Args:
        x: Input ``(N, C, *)``, floating point.
        pieces: The static part and ranges of the pieces.
        network: The hyper-function, from the pooled input ``(N, C)`` to
            ``theta`` ``(N, C' * 2 * K)`` laid out ``(C', 2, K)``, slopes'
            logits first.
        spatial: DY-ReLU-C's attention branch, or None.
        layer: Name of the calling layer, for error messages.

    Returns:
        Tensor shaped, typed and laid out like ``x``.
    """
    parameters = network.parameters
    if spatial is not None:
        parameters += (spatial.weight, spatial.bias) + spatial.norm.parameters
    if not records_graph(x, *parameters):
        return dynamic_relu_forward(
            _passes(x, layer), x, pieces, network, spatial, layer)[0]
    return PiecewiseLinearMaxFunction.apply(x, pieces, network, spatial, layer,
                                            *parameters)


# ------------------------------------------- custom op (torch.compile)


def apply_backward(passes, x: Tensor, grad_y: Tensor, theta: Tensor,
                   pieces: Pieces, attn: Optional[Attention], layer: str):
    """``(grad_x, grad_theta, grad_z or None)`` of ``y(x, theta, z)``."""
    grad_theta, grad_z = _theta_gradient_and_z(passes, x, grad_y, theta,
                                               pieces, attn, layer)
    grad_x, _ = passes.input_gradient(x, grad_y, theta, pieces, attn, None,
                                      None, None, layer)
    return grad_x, grad_theta, grad_z


def _op_attention(passes,
                  x: Tensor,
                  z: Optional[Tensor],
                  temperature: Optional[Tensor],
                  stats: Optional[Tensor] = None) -> Optional[Attention]:
    if z is None:
        return None
    z = z.reshape(x.shape[0], -1).to(acc_dtype(x)).contiguous()
    if stats is None:
        stats = passes.softmax_stats(z, temperature)
    return Attention(z, stats, temperature)


@torch.library.custom_op('mmdynact::piecewise_linear_max', mutates_args=())
def _piecewise_linear_max_op(
        x: Tensor, theta: Tensor, init_a: Tensor, init_b: Tensor,
        lambda_a: float, lambda_b: float, z: Optional[Tensor],
        temperature: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
    passes = _passes(x)
    attn = _op_attention(passes, x, z, temperature)
    y = passes.forward(x, theta.contiguous(),
                       Pieces(init_a, init_b, lambda_a, lambda_b), attn,
                       'DyReLU')
    return y, x.new_empty(0) if attn is None else attn.stats


@_piecewise_linear_max_op.register_fake
def _(x, theta, init_a, init_b, lambda_a, lambda_b, z, temperature):
    stats = x.new_empty(0) if z is None else x.new_empty(
        (x.shape[0], 2), dtype=acc_dtype(x))
    return torch.empty_like(x), stats


@torch.library.custom_op(
    'mmdynact::piecewise_linear_max_backward', mutates_args=())
def _piecewise_linear_max_backward_op(
        x: Tensor, grad_y: Tensor, theta: Tensor, init_a: Tensor,
        init_b: Tensor, lambda_a: float, lambda_b: float, z: Optional[Tensor],
        stats: Tensor, temperature: Optional[Tensor]) -> List[Tensor]:
    passes = _passes(x)
    attn = _op_attention(passes, x, z, temperature, stats)
    grad_x, grad_theta, grad_z = apply_backward(
        passes, x, match_layout(grad_y, x), theta.contiguous(),
        Pieces(init_a, init_b, lambda_a, lambda_b), attn, 'DyReLU')
    grads = [grad_x, grad_theta.reshape(theta.shape).to(theta.dtype)]
    if z is not None:
        grads.append(grad_z.reshape(z.shape).to(z.dtype))
    return [g.contiguous() for g in grads]


@_piecewise_linear_max_backward_op.register_fake
def _(x, grad_y, theta, init_a, init_b, lambda_a, lambda_b, z, stats,
      temperature):
    return [torch.empty_like(t) for t in (x, theta, z) if t is not None]


def _setup_op_context(ctx, inputs, output):
    x, theta, init_a, init_b, lambda_a, lambda_b, z, temperature = inputs
    ctx.save_for_backward(x, theta, init_a, init_b, z, output[1], temperature)
    ctx.lambdas = (lambda_a, lambda_b)


def _op_backward(ctx, grad_y, _):
    check_no_double_backward('DY-ReLU (mmdynact::piecewise_linear_max)')
    x, theta, init_a, init_b, z, stats, temperature = ctx.saved_tensors
    grads = _piecewise_linear_max_backward_op(x, grad_y, theta, init_a, init_b,
                                              *ctx.lambdas, z, stats,
                                              temperature)
    return (grads[0], grads[1], None, None, None, None,
            grads[2] if z is not None else None, None)


_piecewise_linear_max_op.register_autograd(
    _op_backward, setup_context=_setup_op_context)


def count_flops(shapes: List[Optional[Tuple[int, ...]]]) -> int:
    """FLOPs of ``mmdynact::piecewise_linear_max`` from its input shapes
    ``(x, theta, init_a, init_b, lambda_a, lambda_b, z, temperature)``:
    per element of ``x``, ``K`` multiply-adds and ``K - 1`` maxima (+ 1
    product with DY-ReLU-C's attention); a sigmoid per value of
    ``theta``; with the attention, its softmax (3 per position: exp, sum,
    divide)."""
    k = math.prod(shapes[2])
    z = shapes[6] if len(shapes) > 6 else None
    flops = math.prod(shapes[0]) * (2 * k - 1 + (z is not None))
    flops += math.prod(shapes[1])
    if z is not None:
        flops += 3 * math.prod(z)
    return flops


def piecewise_linear_max_op(x: Tensor,
                            theta: Tensor,
                            pieces: Pieces,
                            z: Optional[Tensor] = None,
                            temperature: Optional[Tensor] = None) -> Tensor:
    """``y = [pi *] max_k(a_k x + b_k)`` from a given ``theta`` (and
    DY-ReLU-C's normalised logits ``z`` ``(N, 1, *)``), as the
    ``mmdynact::piecewise_linear_max`` custom op: for ``torch.compile``,
    which traces the hyper-function itself."""
    return _piecewise_linear_max_op(x, theta, *pieces, z, temperature)[0]


#: the node's custom op in the staged path (``torch.compile``, FLOP
#: counting), whose FLOPs :func:`count_flops` counts
PiecewiseLinearMaxFunction.custom_op = 'mmdynact::piecewise_linear_max'
PiecewiseLinearMaxFunction.count_flops = staticmethod(count_flops)
