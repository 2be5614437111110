"""DY-ReLU's ``y = [pi *] max_k(a_k x + b_k)``, kept memory-lean.

DY-ReLU (Chen et al., "Dynamic ReLU", ECCV 2020) computes, per sample ``n``
and channel ``c``, ``y = max_k(a[n, c, k] x + b[n, c, k])`` with

    a_k = init_a[k] + lambda_a * (2 sigmoid(theta_a[n, c, k]) - 1)
    b_k = init_b[k] + lambda_b * (2 sigmoid(theta_b[n, c, k]) - 1)

from the raw output ``theta`` ``(N, C' * 2 * K)`` of the hyper-function
(``C' = 1`` for DY-ReLU-A, whose coefficients are shared by all channels).
DY-ReLU-C scales the result by its spatial attention ``pi >= 0``
(:mod:`.spatial_attention`), which factors out of the max.

The kernels turn ``theta`` into coefficients themselves, and backward keeps
only ``x``, ``theta`` (and DY-ReLU-C's logits): it recomputes which piece
wins. The passes, each one kernel launch:

* forward: ``y`` (after the pooling pass of :mod:`.pooling`);
* backward, coefficients: per-(n, c) sums ``sum_s g x [k wins]`` and
  ``sum_s g [k wins]`` (DY-ReLU-C: also ``grad_pi[n, s] = sum_c g m``), then
  a small pass applying the chain rule to ``theta``;
* backward, input: ``grad_x = g pi slope + d_mean / S (+ d_z w_c)`` with the
  pooling's and the projection's gradients folded in
  (:class:`~.pooling.FoldedInputGradient`).
"""
import math
from typing import List, NamedTuple, Optional, Tuple

import torch
from torch import Tensor

from .backend import kernel_form, torch_kernel
from .grad_checks import check_no_double_backward
from .layout import acc_dtype, as_3d, from_3d, per_channel, per_position
from .pooling import FoldedInputGradient, pooled_gradient
from .spatial_attention import (attention, torch_attention,
                                torch_attention_backward, torch_logsumexp,
                                triton_attention_backward, triton_logsumexp)
from .triton_support import (acc_type, chunk_index, dense, kernel_input,
                             match_layout, next_power_of_2,
                             programs_per_sample, row_program, row_tile,
                             tile_offsets, tiling, tl, triton)


class Coefficients(NamedTuple):
    """What makes ``a_k`` and ``b_k`` (see the module docstring)."""
    theta: Tensor
    init_a: Tensor
    init_b: Tensor
    lambda_a: float
    lambda_b: float

    @property
    def k(self) -> int:
        return self.init_a.numel()

    @property
    def shared(self) -> bool:
        """One set for all channels (DY-ReLU-A)."""
        return self.theta.shape[1] == 2 * self.k


class Attention(NamedTuple):
    """DY-ReLU-C's spatial attention: logits ``z`` ``(N, 1, *)``, their
    ``lse`` and the temperature."""
    z: Tensor
    lse: Tensor
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
    return (tl.load(init_ptr + k).to(ACC) + scale *
            (2.0 / (1.0 + tl.exp(-theta)) - 1.0))


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


@triton.jit(do_not_specialize=['C', 'S', 'S_CHUNK'])
def _forward_kernel(x_ptr, y_ptr, theta_ptr, init_a_ptr, init_b_ptr, lambda_a,
                    lambda_b, z_ptr, lse_ptr, tau_ptr, gamma, C, S, S_CHUNK,
                    K: tl.constexpr, SHARED: tl.constexpr,
                    HAS_PI: tl.constexpr, BLOCK_C: tl.constexpr,
                    BLOCK_S: tl.constexpr, CHANNELS_LAST: tl.constexpr,
                    ACC: tl.constexpr):
    n, c, c_ok, split, sample = row_program(C, S, BLOCK_C)
    row = _theta_row(n, c, C, K, SHARED)
    for start in range(split * S_CHUNK, (split + 1) * S_CHUNK, BLOCK_S):
        s, s_ok, mask, offsets = row_tile(start, c, c_ok, C, S, sample,
                                          BLOCK_S, CHANNELS_LAST)
        x = tl.load(x_ptr + offsets, mask=mask, other=0).to(ACC)
        y, _, _ = _best_piece(x, theta_ptr, row, init_a_ptr, init_b_ptr,
                              lambda_a, lambda_b, c_ok, K, ACC)
        if HAS_PI:
            y = y * attention(z_ptr, lse_ptr, tau_ptr, gamma, n, s, s_ok, S,
                              ACC)[None, :]
        tl.store(y_ptr + offsets, y, mask=mask)


@triton.jit(do_not_specialize=['C', 'S', 'S_CHUNK'])
def _backward_rows_kernel(
        x_ptr, g_ptr, gx_ptr, theta_ptr, init_a_ptr, init_b_ptr, lambda_a,
        lambda_b, z_ptr, lse_ptr, tau_ptr, gamma, partial_ptr, d_mean_ptr,
        d_z_ptr, w_ptr, w_partial_ptr, C, S, S_CHUNK, inv_s, K: tl.constexpr,
        KP: tl.constexpr, SHARED: tl.constexpr, HAS_PI: tl.constexpr,
        REDUCE: tl.constexpr, WRITE_GX: tl.constexpr, POOLED: tl.constexpr,
        PROJECTED: tl.constexpr, WEIGHT_SUMS: tl.constexpr,
        BLOCK_C: tl.constexpr, BLOCK_S: tl.constexpr,
        CHANNELS_LAST: tl.constexpr, ACC: tl.constexpr):
    """Row kernel: per-chunk coefficient sums (``REDUCE``) and/or
    ``grad_x`` (``WRITE_GX``, with the pooled and projected terms), and the
    projection weight's per-chunk sums ``sum d_z x`` (``WEIGHT_SUMS``)."""
    n, c, c_ok, split, sample = row_program(C, S, BLOCK_C)
    row = _theta_row(n, c, C, K, SHARED)
    k_index = tl.arange(0, KP)
    sums_a = tl.zeros([BLOCK_C, KP], dtype=ACC)
    sums_b = tl.zeros([BLOCK_C, KP], dtype=ACC)
    w_sums = tl.zeros([BLOCK_C, BLOCK_S], dtype=ACC)
    pooled = tl.zeros([BLOCK_C], dtype=ACC)
    w = tl.zeros([BLOCK_C], dtype=ACC)
    if POOLED:
        pooled = pooled_gradient(d_mean_ptr, n, c, C, c_ok, inv_s, ACC)
    if PROJECTED:
        w = tl.load(w_ptr + c, mask=c_ok, other=0).to(ACC)
    for start in range(split * S_CHUNK, (split + 1) * S_CHUNK, BLOCK_S):
        s, s_ok, mask, offsets = row_tile(start, c, c_ok, C, S, sample,
                                          BLOCK_S, CHANNELS_LAST)
        x = tl.load(x_ptr + offsets, mask=mask, other=0).to(ACC)
        grad = tl.load(g_ptr + offsets, mask=mask, other=0).to(ACC)
        _, winner, slope = _best_piece(x, theta_ptr, row, init_a_ptr,
                                       init_b_ptr, lambda_a, lambda_b, c_ok, K,
                                       ACC)
        if HAS_PI:
            grad = grad * attention(z_ptr, lse_ptr, tau_ptr, gamma, n, s, s_ok,
                                    S, ACC)[None, :]
        if REDUCE:
            for k in tl.static_range(K):
                wins = winner == k
                sum_a = tl.sum(tl.where(wins, grad * x, 0.0), axis=1)
                sum_b = tl.sum(tl.where(wins, grad, 0.0), axis=1)
                sums_a = tl.where(k_index[None, :] == k,
                                  sums_a + sum_a[:, None], sums_a)
                sums_b = tl.where(k_index[None, :] == k,
                                  sums_b + sum_b[:, None], sums_b)
        d_z = tl.zeros([BLOCK_S], dtype=ACC)
        if PROJECTED:
            d_z = tl.load(d_z_ptr + n * S + s, mask=s_ok, other=0).to(ACC)
            if WEIGHT_SUMS:
                w_sums += d_z[None, :] * x
        if WRITE_GX:
            grad_x = grad * slope
            if POOLED:
                grad_x += pooled[:, None]
            if PROJECTED:
                grad_x += d_z[None, :] * w[:, None]
            tl.store(gx_ptr + offsets, grad_x, mask=mask)
    if REDUCE:
        base = chunk_index(n, c, C, split) * (2 * K)
        k_mask = c_ok[:, None] & (k_index < K)[None, :]
        tl.store(
            partial_ptr + base[:, None] + k_index[None, :],
            sums_a,
            mask=k_mask)
        tl.store(
            partial_ptr + base[:, None] + K + k_index[None, :],
            sums_b,
            mask=k_mask)
    if WEIGHT_SUMS:
        tl.store(
            w_partial_ptr + chunk_index(n, c, C, split),
            tl.sum(w_sums, axis=1),
            mask=c_ok)


@triton.jit(do_not_specialize=['C', 'S'])
def _backward_columns_kernel(x_ptr, g_ptr, gx_ptr, theta_ptr, init_a_ptr,
                             init_b_ptr, lambda_a, lambda_b, z_ptr, lse_ptr,
                             tau_ptr, gamma, partial_ptr, grad_pi_ptr, C, S,
                             K: tl.constexpr, SHARED: tl.constexpr,
                             WRITE_GX: tl.constexpr, BLOCK_C: tl.constexpr,
                             BLOCK_S: tl.constexpr,
                             CHANNELS_LAST: tl.constexpr, ACC: tl.constexpr):
    """Column kernel of DY-ReLU-C: ``grad_pi[n, s] = sum_c g m`` complete,
    coefficient sums per block of positions, optionally ``grad_x``."""
    n = tl.program_id(0)
    block = tl.program_id(1)
    s = block * BLOCK_S + tl.arange(0, BLOCK_S)
    s_ok = s < S
    pi = attention(z_ptr, lse_ptr, tau_ptr, gamma, n, s, s_ok, S, ACC)
    sample = n.to(tl.int64) * C * S
    grad_pi = tl.zeros([BLOCK_S], dtype=ACC)
    for start in range(0, C, BLOCK_C):
        c = start + tl.arange(0, BLOCK_C)
        c_ok = c < C
        mask = c_ok[:, None] & s_ok[None, :]
        offsets = sample + tile_offsets(c, s, C, S, CHANNELS_LAST)
        x = tl.load(x_ptr + offsets, mask=mask, other=0).to(ACC)
        grad = tl.load(g_ptr + offsets, mask=mask, other=0).to(ACC)
        row = _theta_row(n, c, C, K, SHARED)
        best, winner, slope = _best_piece(x, theta_ptr, row, init_a_ptr,
                                          init_b_ptr, lambda_a, lambda_b, c_ok,
                                          K, ACC)
        grad_pi += tl.sum(grad * best, axis=0)
        grad = grad * pi[None, :]
        base = chunk_index(n, c, C, block) * (2 * K)
        for k in tl.static_range(K):
            wins = winner == k
            tl.store(
                partial_ptr + base + k,
                tl.sum(tl.where(wins, grad * x, 0.0), axis=1),
                mask=c_ok)
            tl.store(
                partial_ptr + base + K + k,
                tl.sum(tl.where(wins, grad, 0.0), axis=1),
                mask=c_ok)
        if WRITE_GX:
            tl.store(gx_ptr + offsets, grad * slope, mask=mask)
    tl.store(grad_pi_ptr + n * S + s, grad_pi, mask=s_ok)


@triton.jit(do_not_specialize=['ROWS'])
def _theta_gradient_kernel(partial_ptr, theta_ptr, grad_theta_ptr, lambda_a,
                           lambda_b, ROWS, K: tl.constexpr, Q: tl.constexpr,
                           BLOCK_R: tl.constexpr, ACC: tl.constexpr):
    """``grad_theta`` of one ``(n, c')``: its ``ROWS`` partial sums added,
    times ``lambda * 2 sigmoid'(theta)``."""
    out = tl.program_id(0)
    q = tl.arange(0, Q)
    q_ok = q < 2 * K
    base = out.to(tl.int64) * ROWS * (2 * K)
    total = tl.zeros([BLOCK_R, Q], dtype=ACC)
    for start in range(0, ROWS, BLOCK_R):
        r = start + tl.arange(0, BLOCK_R)
        total += tl.load(
            partial_ptr + base + r[:, None] * (2 * K) + q[None, :],
            mask=(r < ROWS)[:, None] & q_ok[None, :],
            other=0).to(ACC)
    theta = tl.load(theta_ptr + out * (2 * K) + q, mask=q_ok, other=0).to(ACC)
    sig = 1.0 / (1.0 + tl.exp(-theta))
    scale = tl.where(q < K, lambda_a, lambda_b)
    tl.store(
        grad_theta_ptr + out * (2 * K) + q,
        tl.sum(total, axis=0) * scale * 2.0 * sig * (1.0 - sig),
        mask=q_ok)


def _attention_args(attn: Optional[Attention], s: int) -> tuple:
    if attn is None:
        return None, None, None, 0.0
    return attn.z.contiguous(), attn.lse, attn.temperature, s / 3


class _TritonKernels:
    """The passes as Triton kernels."""

    @staticmethod
    def logsumexp(z: Tensor, temperature: Tensor) -> Tensor:
        return triton_logsumexp(z, temperature)

    @staticmethod
    def forward(x: Tensor, coef: Coefficients,
                attn: Optional[Attention]) -> Tensor:
        x, n, c, s, channels_last = kernel_input(x)
        tiles = tiling(c, s, channels_last, None)
        y = torch.empty_like(x)
        _forward_kernel[tiles.rows(n)](
            x,
            y,
            *coef,
            *_attention_args(attn, s),
            c,
            s,
            tiles.s_chunk,
            K=coef.k,
            SHARED=coef.shared,
            HAS_PI=attn is not None,
            BLOCK_C=tiles.block_c,
            BLOCK_S=tiles.block_s,
            CHANNELS_LAST=channels_last,
            ACC=acc_type(x.dtype))
        return y

    @staticmethod
    def backward_coefficients(
            x: Tensor, grad_y: Tensor, coef: Coefficients,
            attn: Optional[Attention], write_gx: bool
    ) -> Tuple[Tensor, Optional[Tensor], Optional[Tensor]]:
        """``(grad_theta, grad_z, grad_x without pooled terms or None)``."""
        x, n, c, s, channels_last = kernel_input(x)
        grad_y = dense(grad_y, channels_last)
        gx = torch.empty_like(x) if write_gx else None
        acc = acc_type(x.dtype)
        common = dict(
            K=coef.k, SHARED=coef.shared, CHANNELS_LAST=channels_last, ACC=acc)
        if attn is None:
            tiles = tiling(c, s, channels_last,
                           programs_per_sample(x.device, n))
            partial = x.new_empty((n, c, tiles.splits, 2 * coef.k),
                                  dtype=acc_dtype(x))
            _backward_rows_kernel[tiles.rows(n)](
                x,
                grad_y,
                gx,
                *coef,
                None,
                None,
                None,
                0.0,
                partial,
                None,
                None,
                None,
                None,
                c,
                s,
                tiles.s_chunk,
                1.0 / s,
                KP=next_power_of_2(coef.k),
                HAS_PI=False,
                REDUCE=True,
                WRITE_GX=write_gx,
                POOLED=False,
                PROJECTED=False,
                WEIGHT_SUMS=False,
                BLOCK_C=tiles.block_c,
                BLOCK_S=tiles.block_s,
                **common)
            grad_z = None
        else:
            tiles = tiling(c, s, channels_last, None)
            partial = x.new_empty((n, c, tiles.splits, 2 * coef.k),
                                  dtype=acc_dtype(x))
            grad_pi = x.new_empty((n, s), dtype=acc_dtype(x))
            _backward_columns_kernel[tiles.columns(n)](
                x,
                grad_y,
                gx,
                *coef,
                *_attention_args(attn, s),
                partial,
                grad_pi,
                c,
                s,
                WRITE_GX=write_gx,
                BLOCK_C=tiles.block_c,
                BLOCK_S=tiles.block_s,
                **common)
            grad_z = triton_attention_backward(grad_pi, attn.z, attn.lse,
                                               attn.temperature)
        theta = coef.theta.contiguous()
        grad_theta = torch.empty_like(theta)
        rows = partial[0].numel() // theta[0].numel()
        _theta_gradient_kernel[(theta.numel() // (2 * coef.k), )](
            partial,
            theta,
            grad_theta,
            coef.lambda_a,
            coef.lambda_b,
            rows,
            K=coef.k,
            Q=next_power_of_2(2 * coef.k),
            BLOCK_R=min(next_power_of_2(rows), 256),
            ACC=acc)
        return grad_theta, grad_z, gx

    @staticmethod
    def backward_input(
            x: Tensor, grad_y: Tensor, coef: Coefficients,
            attn: Optional[Attention], d_mean: Tensor, d_z: Optional[Tensor],
            weight: Optional[Tensor], need_x: bool,
            need_weight: bool) -> Tuple[Optional[Tensor], Optional[Tensor]]:
        """``(grad_x, grad_weight)`` with the pooled (and projected)
        gradients folded in."""
        x, n, c, s, channels_last = kernel_input(x)
        grad_y = dense(grad_y, channels_last)
        weight_sums = d_z is not None and need_weight
        tiles = tiling(
            c, s, channels_last,
            programs_per_sample(x.device, n) if weight_sums else None)
        gx = torch.empty_like(x) if need_x else None
        w_partial = (
            x.new_empty(
                (n, c,
                 tiles.splits), dtype=acc_dtype(x)) if weight_sums else None)
        _backward_rows_kernel[tiles.rows(n)](
            x,
            grad_y,
            gx,
            *coef,
            *_attention_args(attn, s),
            None,
            d_mean.contiguous(),
            None if d_z is None else d_z.contiguous(),
            weight,
            w_partial,
            c,
            s,
            tiles.s_chunk,
            1.0 / s,
            K=coef.k,
            KP=next_power_of_2(coef.k),
            SHARED=coef.shared,
            HAS_PI=attn is not None,
            REDUCE=False,
            WRITE_GX=need_x,
            POOLED=need_x,
            PROJECTED=d_z is not None,
            WEIGHT_SUMS=weight_sums,
            BLOCK_C=tiles.block_c,
            BLOCK_S=tiles.block_s,
            CHANNELS_LAST=channels_last,
            ACC=acc_type(x.dtype))
        grad_weight = (
            w_partial.sum(
                (0,
                 2)).view_as(weight).to(weight.dtype) if weight_sums else None)
        return gx, grad_weight


# ------------------------------------------------------------ torch form


def _torch_coefficients(theta: Tensor, init_a: Tensor, init_b: Tensor,
                        lambda_a: float, lambda_b: float,
                        dtype: torch.dtype) -> Tuple[Tensor, Tensor]:
    """``a``, ``b`` ``(N, C', K)``."""
    k = init_a.numel()
    residual = 2 * torch.sigmoid(
        theta.reshape(theta.shape[0], -1, 2, k).to(dtype)) - 1
    return (init_a.to(dtype) + lambda_a * residual[:, :, 0],
            init_b.to(dtype) + lambda_b * residual[:, :, 1])


def _torch_pieces(x3: Tensor, channel_dim: int, theta: Tensor, init_a: Tensor,
                  init_b: Tensor, lambda_a: float, lambda_b: float):
    """``(pieces a_k x + b_k, slopes a_k)``, broadcast against ``x3``."""
    a, b = _torch_coefficients(theta, init_a, init_b, lambda_a, lambda_b,
                               x3.dtype)
    slopes = [per_channel(a[..., k], channel_dim) for k in range(a.shape[-1])]
    pieces = [
        x3 * slope + per_channel(b[..., k], channel_dim)
        for k, slope in enumerate(slopes)
    ]
    return pieces, slopes


def _torch_choice(pieces):
    """``(max, masks of the winning piece)``; ties go to the first piece."""
    best = pieces[0]
    for piece in pieces[1:]:
        best = torch.maximum(best, piece)
    chosen, taken = [], None
    for piece in pieces:
        wins = piece == best
        chosen.append(wins if taken is None else wins & ~taken)
        taken = chosen[-1] if taken is None else taken | chosen[-1]
    return best, chosen


def _torch_slope(slopes, chosen):
    slope = slopes[-1]
    for k in range(len(slopes) - 2, -1, -1):
        slope = torch.where(chosen[k], slopes[k], slope)
    return slope


@torch_kernel
def _torch_forward(x: Tensor, theta: Tensor, init_a: Tensor, init_b: Tensor,
                   lambda_a: float, lambda_b: float, z: Optional[Tensor],
                   lse: Optional[Tensor],
                   temperature: Optional[Tensor]) -> Tensor:
    x3, channel_dim = as_3d(x)
    pieces, _ = _torch_pieces(
        x3.to(acc_dtype(x)), channel_dim, theta, init_a, init_b, lambda_a,
        lambda_b)
    y = pieces[0]
    for piece in pieces[1:]:
        y = torch.maximum(y, piece)
    if z is not None:
        y = y * per_position(torch_attention(z, lse, temperature), channel_dim)
    return from_3d(y.to(x.dtype), x, channel_dim)


@torch_kernel
def _torch_backward_coefficients(x: Tensor, grad_y: Tensor, theta: Tensor,
                                 init_a: Tensor, init_b: Tensor,
                                 lambda_a: float, lambda_b: float,
                                 z: Optional[Tensor], lse: Optional[Tensor],
                                 temperature: Optional[Tensor],
                                 write_gx: bool):
    """``(grad_theta, grad_pi (N, S) or None, grad_x or None)``."""
    dtype = acc_dtype(x)
    x3, channel_dim = as_3d(x)
    x3 = x3.to(dtype)
    grad = as_3d(grad_y)[0].to(dtype)
    pieces, slopes = _torch_pieces(x3, channel_dim, theta, init_a, init_b,
                                   lambda_a, lambda_b)
    best, chosen = _torch_choice(pieces)
    grad_pi = None
    if z is not None:
        grad_pi = (grad * best).sum(channel_dim)
        grad = grad * per_position(
            torch_attention(z, lse, temperature), channel_dim)
    spatial_dim = 3 - channel_dim
    grad_times_x = grad * x3
    sums_a = torch.stack([
        torch.where(wins, grad_times_x, 0).sum(spatial_dim) for wins in chosen
    ], -1)
    sums_b = torch.stack(
        [torch.where(wins, grad, 0).sum(spatial_dim) for wins in chosen], -1)
    k = init_a.numel()
    if theta.shape[1] == 2 * k:  # shared by all channels (DY-ReLU-A)
        sums_a = sums_a.sum(1, keepdim=True)
        sums_b = sums_b.sum(1, keepdim=True)
    sig = torch.sigmoid(theta.reshape(theta.shape[0], -1, 2, k).to(dtype))
    grad_theta = torch.stack([sums_a * lambda_a, sums_b * lambda_b],
                             2) * (2 * sig * (1 - sig))
    grad_x = None
    if write_gx:
        grad_x = from_3d((grad * _torch_slope(slopes, chosen)).to(x.dtype), x,
                         channel_dim)
    return grad_theta.reshape(theta.shape).to(theta.dtype), grad_pi, grad_x


@torch_kernel
def _torch_backward_input(x: Tensor, grad_y: Tensor, theta: Tensor,
                          init_a: Tensor, init_b: Tensor, lambda_a: float,
                          lambda_b: float, z: Optional[Tensor],
                          lse: Optional[Tensor], temperature: Optional[Tensor],
                          d_mean: Tensor, d_z: Optional[Tensor],
                          weight: Optional[Tensor], need_x: bool,
                          need_weight: bool):
    dtype = acc_dtype(x)
    x3, channel_dim = as_3d(x)
    x3 = x3.to(dtype)
    grad_x = grad_weight = None
    if need_x:
        grad = as_3d(grad_y)[0].to(dtype)
        pieces, slopes = _torch_pieces(x3, channel_dim, theta, init_a, init_b,
                                       lambda_a, lambda_b)
        _, chosen = _torch_choice(pieces)
        if z is not None:
            grad = grad * per_position(
                torch_attention(z, lse, temperature), channel_dim)
        grad_x = grad * _torch_slope(slopes, chosen) + per_channel(
            d_mean.to(dtype) / x3.shape[3 - channel_dim], channel_dim)
        if d_z is not None:
            grad_x = grad_x + per_position(d_z.to(dtype), channel_dim) * \
                per_channel(weight.reshape(1, -1).to(dtype), channel_dim)
        grad_x = from_3d(grad_x.to(x.dtype), x, channel_dim)
    if need_weight and d_z is not None:
        grad_weight = (per_position(d_z.to(dtype), channel_dim) * x3).sum(
            (0, 3 - channel_dim)).view_as(weight).to(weight.dtype)
    return grad_x, grad_weight


class _TorchKernels:
    """The passes in plain PyTorch, ``compiled`` or ``eager``."""

    def __init__(self, form: str) -> None:
        self.form = form

    def logsumexp(self, z: Tensor, temperature: Tensor) -> Tensor:
        return torch_logsumexp(self.form, z, temperature)

    def forward(self, x: Tensor, coef: Coefficients,
                attn: Optional[Attention]) -> Tensor:
        return _torch_forward(self.form, x, *coef, *(attn or (None, ) * 3))

    def backward_coefficients(self, x: Tensor, grad_y: Tensor,
                              coef: Coefficients, attn: Optional[Attention],
                              write_gx: bool):
        grad_theta, grad_pi, gx = _torch_backward_coefficients(
            self.form, x, grad_y, *coef, *(attn or (None, ) * 3), write_gx)
        grad_z = None
        if attn is not None:
            grad_z = torch_attention_backward(self.form, grad_pi, *attn)
        return grad_theta, grad_z, gx

    def backward_input(self, x: Tensor, grad_y: Tensor, coef: Coefficients,
                       attn: Optional[Attention], d_mean: Tensor,
                       d_z: Optional[Tensor], weight: Optional[Tensor],
                       need_x: bool, need_weight: bool):
        return _torch_backward_input(self.form, x, grad_y, *coef,
                                     *(attn or (None, ) * 3), d_mean, d_z,
                                     weight, need_x, need_weight)


_KERNELS = {
    'triton': _TritonKernels(),
    'compiled': _TorchKernels('compiled'),
    'eager': _TorchKernels('eager'),
}


def _kernels(x: Tensor):
    return _KERNELS[kernel_form(x.device)]


# ------------------------------------------------------------- autograd


class PiecewiseLinearMaxFunction(torch.autograd.Function):
    """``y = [pi *] max_k(a_k x + b_k)`` from ``theta``."""

    @staticmethod
    def count_flops(shapes: List[Tuple[int, ...]]) -> int:
        """Per element of ``x``: ``K`` multiply-adds and ``K - 1`` maxima
        (+ 1 product with DY-ReLU-C's attention); a sigmoid per value of
        ``theta``; with the attention, its softmax (3 per position: exp,
        sum, divide). Inputs: ``x, theta, init_a, init_b[, z,
        temperature]``."""
        k = math.prod(shapes[2])
        attended = len(shapes) > 4
        flops = math.prod(shapes[0]) * (2 * k - 1 + attended)
        flops += math.prod(shapes[1])
        if attended:
            flops += 3 * math.prod(shapes[4])
        return flops

    @staticmethod
    def forward(ctx, x: Tensor, theta: Tensor, init_a: Tensor, init_b: Tensor,
                lambda_a: float, lambda_b: float, z: Optional[Tensor],
                temperature: Optional[Tensor],
                fold: Optional[FoldedInputGradient], layer: str) -> Tensor:
        kernels = _kernels(x)
        theta = theta.contiguous()
        coef = Coefficients(theta, init_a, init_b, lambda_a, lambda_b)
        attn = None
        if z is not None:
            attn = Attention(z, kernels.logsumexp(z, temperature), temperature)
        ctx.save_for_backward(x, theta, init_a, init_b, *(attn
                                                          or (None, ) * 3))
        ctx.lambdas, ctx.fold, ctx.layer, ctx.kernels = (lambda_a, lambda_b), \
            fold, layer, kernels
        return kernels.forward(x, coef, attn)

    @staticmethod
    def backward(ctx, grad_y: Tensor):
        check_no_double_backward(ctx.layer)
        x, theta, init_a, init_b, z, lse, temperature = ctx.saved_tensors
        coef = Coefficients(theta, init_a, init_b, *ctx.lambdas)
        attn = None if z is None else Attention(z, lse, temperature)
        grad_y = match_layout(grad_y, x)
        kernels, fold = ctx.kernels, ctx.fold
        need_x = ctx.needs_input_grad[0]
        grad_theta, grad_z, grad_x = kernels.backward_coefficients(
            x, grad_y, coef, attn, need_x and fold is None)
        if need_x and fold is not None:
            fold.put(lambda d_mean, d_z, weight, need_x, need_weight: kernels.
                     backward_input(x, grad_y, coef, attn, d_mean, d_z, weight,
                                    need_x, need_weight))
        return (grad_x, grad_theta, None, None, None, None, grad_z, None, None,
                None)


# ------------------------------------------- custom ops (torch.compile)


@torch.library.custom_op('mmdynact::piecewise_linear_max', mutates_args=())
def _piecewise_linear_max_op(
        x: Tensor, theta: Tensor, init_a: Tensor, init_b: Tensor,
        lambda_a: float, lambda_b: float, z: Optional[Tensor],
        temperature: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
    kernels = _kernels(x)
    coef = Coefficients(theta.contiguous(), init_a, init_b, lambda_a, lambda_b)
    if z is None:
        return kernels.forward(x, coef, None), x.new_empty(
            0, dtype=acc_dtype(x))
    lse = kernels.logsumexp(z, temperature)
    return kernels.forward(x, coef, Attention(z, lse, temperature)), lse


@_piecewise_linear_max_op.register_fake
def _(x, theta, init_a, init_b, lambda_a, lambda_b, z, temperature):
    return torch.empty_like(x), x.new_empty(
        0 if z is None else x.shape[0], dtype=acc_dtype(x))


@torch.library.custom_op(
    'mmdynact::piecewise_linear_max_backward', mutates_args=())
def _piecewise_linear_max_backward_op(
        x: Tensor, grad_y: Tensor, theta: Tensor, init_a: Tensor,
        init_b: Tensor, lambda_a: float, lambda_b: float, z: Optional[Tensor],
        lse: Tensor,
        temperature: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
    coef = Coefficients(theta.contiguous(), init_a, init_b, lambda_a, lambda_b)
    attn = None if z is None else Attention(z, lse, temperature)
    grad_theta, grad_z, grad_x = _kernels(x).backward_coefficients(
        x, match_layout(grad_y, x), coef, attn, True)
    return grad_x, grad_theta, grad_z if z is not None else lse.new_empty(0)


@_piecewise_linear_max_backward_op.register_fake
def _(x, grad_y, theta, init_a, init_b, lambda_a, lambda_b, z, lse,
      temperature):
    return (torch.empty_like(x), torch.empty_like(theta),
            lse.new_empty(0) if z is None else torch.empty_like(z))


def _setup_op_context(ctx, inputs, output):
    x, theta, init_a, init_b, lambda_a, lambda_b, z, temperature = inputs
    ctx.save_for_backward(x, theta, init_a, init_b, z, output[1], temperature)
    ctx.lambdas = (lambda_a, lambda_b)


def _op_backward(ctx, grad_y, _):
    check_no_double_backward('DY-ReLU (piecewise_linear_max)')
    x, theta, init_a, init_b, z, lse, temperature = ctx.saved_tensors
    grad_x, grad_theta, grad_z = _piecewise_linear_max_backward_op(
        x, grad_y, theta, init_a, init_b, *ctx.lambdas, z, lse, temperature)
    return (grad_x, grad_theta, None, None, None, None,
            None if z is None else grad_z, None)


_piecewise_linear_max_op.register_autograd(
    _op_backward, setup_context=_setup_op_context)


def piecewise_linear_max(x: Tensor,
                         theta: Tensor,
                         init_a: Tensor,
                         init_b: Tensor,
                         lambda_a: float,
                         lambda_b: float,
                         attention_logits: Optional[Tuple[Tensor,
                                                          Tensor]] = None,
                         fold: Optional[FoldedInputGradient] = None,
                         layer: str = 'piecewise_linear_max') -> Tensor:
    """``y = [pi *] max_k(a_k x + b_k)`` (see the module docstring).

    Args:
        x: Input ``(N, C, *)``.
        theta: Raw hyper-function output ``(N, C' * 2 * K)``, ``C'`` = ``C``
            or 1 (shared coefficients), laid out ``(C', 2, K)`` with the
            slopes' logits first.
        init_a, init_b: Static slopes and intercepts ``(K, )``.
        lambda_a, lambda_b: Ranges of the residuals.
        attention_logits: DY-ReLU-C's ``(z, temperature)``: logits ``(N, 1,
            *)`` of the spatial attention and the softmax temperature (a
            scalar tensor).
        fold: Shared with the pooling that made ``theta``'s input (see
            :class:`~.pooling.FoldedInputGradient`).
        layer: Name of the calling layer, for error messages.

    Returns:
        Tensor shaped, typed and laid out like ``x``.
    """
    z, temperature = attention_logits or (None, None)
    if torch.compiler.is_compiling():
        return _piecewise_linear_max_op(x, theta, init_a, init_b, lambda_a,
                                        lambda_b, z, temperature)[0]
    return PiecewiseLinearMaxFunction.apply(x, theta, init_a, init_b, lambda_a,
                                            lambda_b, z, temperature, fold,
                                            layer)
