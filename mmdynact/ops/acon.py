"""ACON ``y = (p1 - p2) x sigmoid(beta (p1 - p2) x) + p2 x``, as one node.

ACON-C (Ma et al., "Activate or Not: Learning Customized Activation",
CVPR 2021) with per-channel ``p1, p2`` and a switching factor ``beta`` per
channel; ACON-A (``p1 = 1``, no ``p2`` term: ``x sigmoid(beta x)``) and
ACON-B (``p1 = 1``) are special cases. Meta-ACON generates ``beta =
sigmoid(G(mean(x)))`` per sample and channel with a small network ``G``
(:mod:`.hyper_network`).

Backward keeps only ``x`` and the small tensors. With ``u = (p1 - p2) x``,
``sg = sigmoid(beta u)`` and ``g_u = g (sg + beta u sg (1 - sg))``:

    grad_x = g_u (p1 - p2) + g p2  [+ d_mean / S for Meta-ACON],
    grad_p1 = sum g_u x,  grad_p2 = sum (g - g_u) x,
    grad_beta = sum g sg (1 - sg) u^2,

the sums over positions (and samples, for per-channel parameters). Passes,
each one kernel launch:

* ACON-A/B/C: forward ``y``; backward ``grad_x`` and the per-chunk sums;
* Meta-ACON: the pooling, ``G`` on ``(N, C)``, ``y``; backward the sums
  (``grad_beta`` times ``sigmoid'``, i.e. the gradient of ``G``'s output),
  ``G``'s backward, then ``grad_x`` with the pooled gradient folded in.

Each layer call is one :class:`AconFunction` node. Inside
``torch.compile`` the layers call the ``mmdynact::acon`` custom op instead
(``beta`` given, its gradient per sample and channel returned), whose
backward is the same :func:`apply_backward`.
"""
import math
from typing import List, NamedTuple, Optional, Tuple

import torch
from torch import Tensor

from .backend import FormPasses, inference_kernel, torch_kernel
from .grad_checks import check_no_double_backward, records_graph
from .hyper_network import HyperNetwork
from .layout import acc_dtype, as_3d, from_3d, per_channel
from .pooling import pooled_gradient, torch_mean, triton_mean
from .triton_support import (REDUCE, STREAM, kernel_input, match_layout,
                             partial_index, programs_per_sample, row_channels,
                             row_launch, row_sample, row_tile, row_tiling,
                             sample_start, tl, triton)

#: the slot of beta's sums per (sample, channel) in backward; p2's and
#: p1's follow, those of the parameters present
BETA = 0

# ---------------------------------------------------------------- Triton


@triton.jit
def _switch(p1_ptr, p2_ptr, beta_ptr, n, c, C, c_ok, HAS_P1: tl.constexpr,
            HAS_P2: tl.constexpr, BETA_PER_SAMPLE: tl.constexpr,
            META: tl.constexpr, ACC: tl.constexpr):
    """``(p1 - p2, p2, beta)`` for channels ``c`` of sample ``n``: ``beta``
    per channel, per sample and channel, or (Meta-ACON) ``G``'s output per
    sample and channel through the sigmoid."""
    p2 = tl.zeros([c.shape[0]], dtype=ACC)
    if HAS_P2:
        p2 = tl.load(p2_ptr + c, mask=c_ok, other=0).to(ACC)
    dp = 1.0 - p2
    if HAS_P1:
        dp = tl.load(p1_ptr + c, mask=c_ok, other=0).to(ACC) - p2
    if META:
        beta = tl.sigmoid(
            tl.load(beta_ptr + n * C + c, mask=c_ok, other=0).to(ACC))
    elif BETA_PER_SAMPLE:
        beta = tl.load(beta_ptr + n * C + c, mask=c_ok, other=0).to(ACC)
    else:
        beta = tl.load(beta_ptr + c, mask=c_ok, other=0).to(ACC)
    return dp, p2, beta


@triton.jit
def _activate(x, dp, p2, beta, HAS_P2: tl.constexpr):
    """``y`` as the formula computes it (ACON-A has no ``p2 x`` term)."""
    u = dp[:, None] * x
    y = u * tl.sigmoid(beta[:, None] * u)
    if HAS_P2:
        y += p2[:, None] * x
    return y


@triton.jit
def _gradients(x, grad, dp, p2, beta):
    """``(grad_x, g_u, sg (1 - sg) u^2)`` of one tile."""
    u = dp[:, None] * x
    sg = tl.sigmoid(beta[:, None] * u)
    dsg = sg * (1.0 - sg)
    grad_u = grad * (sg + beta[:, None] * u * dsg)
    return grad_u * dp[:, None] + grad * p2[:, None], grad_u, dsg * u * u


@triton.jit
def _store_sums(partial_ptr, n, c, C, c_ok, beta_sum, p2_sum, p1_sum,
                HAS_P1: tl.constexpr, HAS_P2: tl.constexpr,
                SLOTS: tl.constexpr):
    """Store a chunk's sums at ``partial[n, c, chunk, slot]``, the slots
    those of the parameters present, in the order beta, p2, p1."""
    at = partial_ptr + partial_index(n, c, C) * SLOTS
    tl.store(at, tl.sum(beta_sum, axis=1), mask=c_ok)
    if HAS_P2:
        at += 1
        tl.store(at, tl.sum(p2_sum, axis=1), mask=c_ok)
    if HAS_P1:
        tl.store(at + 1, tl.sum(p1_sum, axis=1), mask=c_ok)


@triton.jit(do_not_specialize=['C', 'S', 'CHUNK'])
def _forward_kernel(x_ptr, y_ptr, p1_ptr, p2_ptr, beta_ptr, C, S, CHUNK,
                    HAS_P1: tl.constexpr, HAS_P2: tl.constexpr,
                    BETA_PER_SAMPLE: tl.constexpr, META: tl.constexpr,
                    BLOCK_C: tl.constexpr, BLOCK_S: tl.constexpr,
                    CHANNELS_LAST: tl.constexpr, ACC: tl.constexpr):
    """``y`` of a chunk of positions."""
    n = row_sample(C, BLOCK_C)
    c = row_channels(C, BLOCK_C)
    c_ok = c < C
    dp, p2, beta = _switch(p1_ptr, p2_ptr, beta_ptr, n, c, C, c_ok, HAS_P1,
                           HAS_P2, BETA_PER_SAMPLE, META, ACC)
    start = sample_start(n, C, S)
    x_ptr += start
    y_ptr += start
    first = tl.program_id(1) * CHUNK
    for position in range(first, first + CHUNK, BLOCK_S):
        s, s_ok, mask, offsets = row_tile(position, c, c_ok, C, S, BLOCK_S,
                                          CHANNELS_LAST)
        x = tl.load(x_ptr + offsets, mask=mask, other=0).to(ACC)
        tl.store(
            y_ptr + offsets, _activate(x, dp, p2, beta, HAS_P2), mask=mask)


@triton.jit(do_not_specialize=['C', 'S', 'CHUNK'])
def _backward_kernel(x_ptr, g_ptr, gx_ptr, p1_ptr, p2_ptr, beta_ptr,
                     partial_ptr, C, S, CHUNK, HAS_P1: tl.constexpr,
                     HAS_P2: tl.constexpr, BETA_PER_SAMPLE: tl.constexpr,
                     SLOTS: tl.constexpr, BLOCK_C: tl.constexpr,
                     BLOCK_S: tl.constexpr, CHANNELS_LAST: tl.constexpr,
                     ACC: tl.constexpr):
    """``grad_x`` and the chunk's parameter sums, ``beta`` given (ACON-A/B/C;
    Meta-ACON inside ``torch.compile``)."""
    n = row_sample(C, BLOCK_C)
    c = row_channels(C, BLOCK_C)
    c_ok = c < C
    dp, p2, beta = _switch(p1_ptr, p2_ptr, beta_ptr, n, c, C, c_ok, HAS_P1,
                           HAS_P2, BETA_PER_SAMPLE, False, ACC)
    start = sample_start(n, C, S)
    x_ptr += start
    g_ptr += start
    gx_ptr += start
    beta_sum = tl.zeros([BLOCK_C, BLOCK_S], dtype=ACC)
    p2_sum = tl.zeros([BLOCK_C, BLOCK_S], dtype=ACC)
    p1_sum = tl.zeros([BLOCK_C, BLOCK_S], dtype=ACC)
    first = tl.program_id(1) * CHUNK
    for position in range(first, first + CHUNK, BLOCK_S):
        s, s_ok, mask, offsets = row_tile(position, c, c_ok, C, S, BLOCK_S,
                                          CHANNELS_LAST)
        x = tl.load(x_ptr + offsets, mask=mask, other=0).to(ACC)
        grad = tl.load(g_ptr + offsets, mask=mask, other=0).to(ACC)
        grad_x, grad_u, beta_term = _gradients(x, grad, dp, p2, beta)
        tl.store(gx_ptr + offsets, grad_x, mask=mask)
        beta_sum += grad * beta_term
        if HAS_P2:
            p2_sum += (grad - grad_u) * x
        if HAS_P1:
            p1_sum += grad_u * x
    _store_sums(partial_ptr, n, c, C, c_ok, beta_sum, p2_sum, p1_sum, HAS_P1,
                HAS_P2, SLOTS)


@triton.jit(do_not_specialize=['C', 'S', 'CHUNK'])
def _meta_sums_kernel(x_ptr, g_ptr, p1_ptr, p2_ptr, logits_ptr, partial_ptr, C,
                      S, CHUNK, BLOCK_C: tl.constexpr, BLOCK_S: tl.constexpr,
                      CHANNELS_LAST: tl.constexpr, ACC: tl.constexpr):
    """Meta-ACON: the chunk's sums, beta's times ``sigmoid'`` (the gradient
    of ``G``'s output)."""
    n = row_sample(C, BLOCK_C)
    c = row_channels(C, BLOCK_C)
    c_ok = c < C
    dp, p2, beta = _switch(p1_ptr, p2_ptr, logits_ptr, n, c, C, c_ok, True,
                           True, True, True, ACC)
    start = sample_start(n, C, S)
    x_ptr += start
    g_ptr += start
    beta_sum = tl.zeros([BLOCK_C, BLOCK_S], dtype=ACC)
    p2_sum = tl.zeros([BLOCK_C, BLOCK_S], dtype=ACC)
    p1_sum = tl.zeros([BLOCK_C, BLOCK_S], dtype=ACC)
    first = tl.program_id(1) * CHUNK
    for position in range(first, first + CHUNK, BLOCK_S):
        s, s_ok, mask, offsets = row_tile(position, c, c_ok, C, S, BLOCK_S,
                                          CHANNELS_LAST)
        x = tl.load(x_ptr + offsets, mask=mask, other=0).to(ACC)
        grad = tl.load(g_ptr + offsets, mask=mask, other=0).to(ACC)
        _, grad_u, beta_term = _gradients(x, grad, dp, p2, beta)
        beta_sum += grad * beta_term
        p2_sum += (grad - grad_u) * x
        p1_sum += grad_u * x
    beta_sum *= (beta * (1.0 - beta))[:, None]
    _store_sums(partial_ptr, n, c, C, c_ok, beta_sum, p2_sum, p1_sum, True,
                True, 3)


@triton.jit(do_not_specialize=['C', 'S', 'CHUNK'])
def _meta_input_gradient_kernel(x_ptr, g_ptr, gx_ptr, p1_ptr, p2_ptr,
                                logits_ptr, d_mean_ptr, C, S, CHUNK, inv_s,
                                BLOCK_C: tl.constexpr, BLOCK_S: tl.constexpr,
                                CHANNELS_LAST: tl.constexpr,
                                ACC: tl.constexpr):
    """Meta-ACON: ``grad_x`` with the pooled gradient ``d_mean / S``."""
    n = row_sample(C, BLOCK_C)
    c = row_channels(C, BLOCK_C)
    c_ok = c < C
    dp, p2, beta = _switch(p1_ptr, p2_ptr, logits_ptr, n, c, C, c_ok, True,
                           True, True, True, ACC)
    pooled = pooled_gradient(d_mean_ptr, n, c, C, c_ok, inv_s, ACC)
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
        grad_x, _, _ = _gradients(x, grad, dp, p2, beta)
        tl.store(gx_ptr + offsets, grad_x + pooled[:, None], mask=mask)


def _slots(p1: Optional[Tensor], p2: Optional[Tensor]) -> int:
    return 1 + (p2 is not None) + (p1 is not None)


def _sum_chunks(partial: Tensor) -> Tensor:
    """``(N, C, chunks, slots)`` -> ``(N, C, slots)``."""
    return partial[:, :, 0] if partial.shape[2] == 1 else partial.sum(2)


class _Triton:
    """The passes as Triton kernels."""

    @staticmethod
    def mean(x: Tensor, layer: str) -> Tensor:
        return triton_mean(kernel_input(x, layer))

    @staticmethod
    def forward(x: Tensor, p1: Optional[Tensor], p2: Optional[Tensor],
                beta: Tensor, meta: bool, layer: str) -> Tensor:
        inp = kernel_input(x, layer)
        tiles = row_tiling(inp.c, inp.s, inp.channels_last, STREAM, None)
        y = torch.empty_like(inp.x)
        _forward_kernel[tiles.grid(inp.n)](
            x_ptr=inp.x,
            y_ptr=y,
            p1_ptr=p1,
            p2_ptr=p2,
            beta_ptr=beta,
            HAS_P1=p1 is not None,
            HAS_P2=p2 is not None,
            BETA_PER_SAMPLE=not meta and beta.shape[0] > 1,
            META=meta,
            **row_launch(inp, tiles))
        return y

    @staticmethod
    def backward(x: Tensor, grad_y: Tensor, p1: Optional[Tensor],
                 p2: Optional[Tensor], beta: Tensor,
                 layer: str) -> Tuple[Tensor, Tensor]:
        inp = kernel_input(x, layer)
        tiles = row_tiling(inp.c, inp.s, inp.channels_last, REDUCE,
                           programs_per_sample(inp.x.device, inp.n))
        grad_x = torch.empty_like(inp.x)
        slots = _slots(p1, p2)
        partial = inp.x.new_empty((inp.n, inp.c, tiles.chunks, slots),
                                  dtype=acc_dtype(inp.x))
        _backward_kernel[tiles.grid(inp.n)](
            x_ptr=inp.x,
            g_ptr=grad_y,
            gx_ptr=grad_x,
            p1_ptr=p1,
            p2_ptr=p2,
            beta_ptr=beta,
            partial_ptr=partial,
            HAS_P1=p1 is not None,
            HAS_P2=p2 is not None,
            BETA_PER_SAMPLE=beta.shape[0] > 1,
            SLOTS=slots,
            **row_launch(inp, tiles))
        return grad_x, _sum_chunks(partial)

    @staticmethod
    def meta_sums(x: Tensor, grad_y: Tensor, p1: Tensor, p2: Tensor,
                  logits: Tensor, layer: str) -> Tensor:
        inp = kernel_input(x, layer)
        tiles = row_tiling(inp.c, inp.s, inp.channels_last, REDUCE,
                           programs_per_sample(inp.x.device, inp.n))
        partial = inp.x.new_empty((inp.n, inp.c, tiles.chunks, 3),
                                  dtype=acc_dtype(inp.x))
        _meta_sums_kernel[tiles.grid(inp.n)](
            x_ptr=inp.x,
            g_ptr=grad_y,
            p1_ptr=p1,
            p2_ptr=p2,
            logits_ptr=logits,
            partial_ptr=partial,
            **row_launch(inp, tiles))
        return _sum_chunks(partial)

    @staticmethod
    def meta_input_gradient(x: Tensor, grad_y: Tensor, p1: Tensor, p2: Tensor,
                            logits: Tensor, d_mean: Tensor,
                            layer: str) -> Tensor:
        inp = kernel_input(x, layer)
        tiles = row_tiling(inp.c, inp.s, inp.channels_last, STREAM, None)
        grad_x = torch.empty_like(inp.x)
        _meta_input_gradient_kernel[tiles.grid(inp.n)](
            x_ptr=inp.x,
            g_ptr=grad_y,
            gx_ptr=grad_x,
            p1_ptr=p1,
            p2_ptr=p2,
            logits_ptr=logits,
            d_mean_ptr=d_mean,
            inv_s=1.0 / inp.s,
            **row_launch(inp, tiles))
        return grad_x


# ------------------------------------------------------------ torch form


def _switch_3d(p1: Optional[Tensor], p2: Optional[Tensor], beta: Tensor,
               meta: bool, channel_dim: int, dtype: torch.dtype):
    """``(p1 - p2, p2 or None, beta)`` against the 3D view of the input."""
    p2_ = None if p2 is None else per_channel(
        p2.view(1, -1).to(dtype), channel_dim)
    dp = 1.0 if p1 is None else per_channel(
        p1.view(1, -1).to(dtype), channel_dim)
    if p2_ is not None:
        dp = dp - p2_
    beta_ = beta.reshape(beta.shape[0], -1).to(dtype)
    beta_ = per_channel(torch.sigmoid(beta_) if meta else beta_, channel_dim)
    return dp, p2_, beta_


@torch_kernel
def _torch_forward(x: Tensor, p1: Optional[Tensor], p2: Optional[Tensor],
                   beta: Tensor, meta: bool) -> Tensor:
    dtype = acc_dtype(x)
    x3, channel_dim = as_3d(x)
    x3 = x3.to(dtype)
    dp, p2_, beta_ = _switch_3d(p1, p2, beta, meta, channel_dim, dtype)
    u = dp * x3
    y = u * torch.sigmoid(beta_ * u)
    if p2_ is not None:
        y = y + p2_ * x3
    return from_3d(y.to(x.dtype), x, channel_dim)


def _torch_gradients(x3: Tensor, grad: Tensor, dp, p2_, beta_):
    """``(grad_x, g_u, sg (1 - sg) u^2)`` against the 3D view."""
    u = dp * x3
    sg = torch.sigmoid(beta_ * u)
    dsg = sg * (1 - sg)
    grad_u = grad * (sg + beta_ * u * dsg)
    grad_x = grad_u * dp
    if p2_ is not None:
        grad_x = grad_x + grad * p2_
    return grad_x, grad_u, dsg * u * u


def _torch_sums(x3, grad, grad_u, beta_term, p1, p2, spatial_dim) -> Tensor:
    sums = [(grad * beta_term).sum(spatial_dim)]
    if p2 is not None:
        sums.append(((grad - grad_u) * x3).sum(spatial_dim))
    if p1 is not None:
        sums.append((grad_u * x3).sum(spatial_dim))
    return torch.stack(sums, -1)


@torch_kernel
def _torch_backward(x: Tensor, grad_y: Tensor, p1: Optional[Tensor],
                    p2: Optional[Tensor], beta: Tensor, meta: bool,
                    write_gx: bool):
    """``(grad_x or None, sums (N, C, slots))``; Meta-ACON's beta sums are
    times ``sigmoid'``."""
    dtype = acc_dtype(x)
    x3, channel_dim = as_3d(x)
    x3 = x3.to(dtype)
    grad = as_3d(grad_y)[0].to(dtype)
    dp, p2_, beta_ = _switch_3d(p1, p2, beta, meta, channel_dim, dtype)
    grad_x, grad_u, beta_term = _torch_gradients(x3, grad, dp, p2_, beta_)
    if meta:
        beta_term = beta_term * (beta_ * (1 - beta_))
    sums = _torch_sums(x3, grad, grad_u, beta_term, p1, p2, 3 - channel_dim)
    if write_gx:
        grad_x = from_3d(grad_x.to(x.dtype), x, channel_dim)
    return (grad_x if write_gx else None), sums


@torch_kernel
def _torch_meta_input_gradient(x: Tensor, grad_y: Tensor, p1: Tensor,
                               p2: Tensor, logits: Tensor,
                               d_mean: Tensor) -> Tensor:
    dtype = acc_dtype(x)
    x3, channel_dim = as_3d(x)
    x3 = x3.to(dtype)
    grad = as_3d(grad_y)[0].to(dtype)
    dp, p2_, beta_ = _switch_3d(p1, p2, logits, True, channel_dim, dtype)
    grad_x, _, _ = _torch_gradients(x3, grad, dp, p2_, beta_)
    grad_x = grad_x + per_channel(
        d_mean.to(dtype) / x3.shape[3 - channel_dim], channel_dim)
    return from_3d(grad_x.to(x.dtype), x, channel_dim)


class _Torch:
    """The passes in plain PyTorch, ``compiled`` or ``eager``."""

    def __init__(self, form: str) -> None:
        self.form = form

    def mean(self, x: Tensor, layer: str) -> Tensor:
        return torch_mean(self.form, x)

    def forward(self, x: Tensor, p1: Optional[Tensor], p2: Optional[Tensor],
                beta: Tensor, meta: bool, layer: str) -> Tensor:
        return _torch_forward(self.form, x, p1, p2, beta, meta)

    def backward(self, x: Tensor, grad_y: Tensor, p1: Optional[Tensor],
                 p2: Optional[Tensor], beta: Tensor, layer: str):
        return _torch_backward(self.form, x, grad_y, p1, p2, beta, False, True)

    def meta_sums(self, x: Tensor, grad_y: Tensor, p1: Tensor, p2: Tensor,
                  logits: Tensor, layer: str) -> Tensor:
        return _torch_backward(self.form, x, grad_y, p1, p2, logits, True,
                               False)[1]

    def meta_input_gradient(self, x: Tensor, grad_y: Tensor, p1: Tensor,
                            p2: Tensor, logits: Tensor, d_mean: Tensor,
                            layer: str) -> Tensor:
        return _torch_meta_input_gradient(self.form, x, grad_y, p1, p2, logits,
                                          d_mean)


_passes = FormPasses(_Triton(), _Torch)

# --------------------------------------------------------- the one node


def _as_grad(total: Tensor, param: Tensor) -> Tensor:
    """A sum shaped and typed as ``param``'s gradient."""
    grad = total.view_as(param)
    return grad if grad.dtype == param.dtype else grad.to(param.dtype)


def apply_backward(passes, x: Tensor, grad_y: Tensor, p1: Optional[Tensor],
                   p2: Optional[Tensor], beta: Tensor, layer: str):
    """``(grad_x, grad_p1, grad_p2, grad_beta)`` of ``y(x, p1, p2, beta)``
    with ``beta`` given (``(1, C, 1, 1)`` or ``(N, C, 1, 1)``); None for
    absent parameters. The per-channel gradients come from one sum over
    the samples of the per-(n, c) sums."""
    grad_x, sums = passes.backward(x, grad_y, p1, p2, beta, layer)
    channel_sums = sums.sum(0).unbind(1)
    grad_beta = (
        channel_sums[BETA] if beta.shape[0] == 1 else sums.select(2, BETA))
    others = iter(channel_sums[BETA + 1:])
    grad_p2 = None if p2 is None else _as_grad(next(others), p2)
    grad_p1 = None if p1 is None else _as_grad(next(others), p1)
    return grad_x, grad_p1, grad_p2, _as_grad(grad_beta, beta)


def acon_forward(passes, x: Tensor, p1: Optional[Tensor], p2: Optional[Tensor],
                 beta: Optional[Tensor], network: Optional[HyperNetwork],
                 layer: str):
    """``(y, beta or G's output (N, C), G's saved state)``."""
    if network is None:
        return passes.forward(x, p1, p2, beta, False, layer), beta, None
    mean = passes.mean(x, layer)
    logits, state = network.forward(mean.to(network.parameters[0].dtype))
    return passes.forward(x, p1, p2, logits, True, layer), logits, state


class AconFunction(torch.autograd.Function):
    """One ACON layer call: ``y`` from ``x``, ``p1``, ``p2`` and ``beta``,
    or, for Meta-ACON, from the switching network's parameters."""

    @staticmethod
    def forward(ctx, x: Tensor, p1: Optional[Tensor], p2: Optional[Tensor],
                beta: Optional[Tensor], network: Optional[HyperNetwork],
                layer: str, *parameters: Tensor) -> Tensor:
        passes = _passes(x, layer)
        y, beta, ctx.state = acon_forward(passes, x, p1, p2, beta, network,
                                          layer)
        ctx.passes, ctx.layer, ctx.network = passes, layer, network
        ctx.save_for_backward(x, p1, p2, beta)
        return y

    @staticmethod
    def backward(ctx, grad_y: Tensor, *_):
        check_no_double_backward(ctx.layer)
        x, p1, p2, beta = ctx.saved_tensors
        grad_y = match_layout(grad_y, x)
        passes, layer, network = ctx.passes, ctx.layer, ctx.network
        if network is None:
            grad_x, grad_p1, grad_p2, grad_beta = apply_backward(
                passes, x, grad_y, p1, p2, beta, layer)
            return grad_x, grad_p1, grad_p2, grad_beta, None, None
        sums = passes.meta_sums(x, grad_y, p1, p2, beta, layer)
        need_x = ctx.needs_input_grad[0]
        d_logits = sums.select(2, BETA).to(network.parameters[0].dtype)
        d_mean, network_grads = network.backward(ctx.state, d_logits, need_x,
                                                 ctx.needs_input_grad[6:])
        grad_x = None
        if need_x:
            grad_x = passes.meta_input_gradient(x, grad_y, p1, p2, beta,
                                                d_mean.to(beta.dtype), layer)
        _, sum_p2, sum_p1 = sums.sum(0).unbind(1)
        return (grad_x, _as_grad(sum_p1, p1), _as_grad(sum_p2, p2), None, None,
                None, *network_grads)


# ------------------------------------------- custom op (torch.compile)


@torch.library.custom_op('mmdynact::acon', mutates_args=())
def _acon_op(x: Tensor, p1: Optional[Tensor], p2: Optional[Tensor],
             beta: Tensor) -> Tensor:
    return _passes(x).forward(x, p1, p2, beta, False, 'ACON')


@_acon_op.register_fake
def _(x, p1, p2, beta):
    return torch.empty_like(x)


@torch.library.custom_op('mmdynact::acon_backward', mutates_args=())
def _acon_backward_op(x: Tensor, grad_y: Tensor, p1: Optional[Tensor],
                      p2: Optional[Tensor], beta: Tensor) -> List[Tensor]:
    grads = apply_backward(
        _passes(x), x, match_layout(grad_y, x), p1, p2, beta, 'ACON')
    return [g.contiguous() for g in grads if g is not None]


@_acon_backward_op.register_fake
def _(x, grad_y, p1, p2, beta):
    return [torch.empty_like(t) for t in (x, p1, p2, beta) if t is not None]


def _setup_op_context(ctx, inputs, output):
    ctx.save_for_backward(*inputs)


def _op_backward(ctx, grad_y):
    check_no_double_backward('ACON (mmdynact::acon)')
    x, p1, p2, beta = ctx.saved_tensors
    found = iter(_acon_backward_op(x, grad_y, p1, p2, beta))
    return tuple(None if t is None else next(found) for t in (x, p1, p2, beta))


_acon_op.register_autograd(_op_backward, setup_context=_setup_op_context)


class Acon(NamedTuple):
    """An ACON layer's parameters: ``p1``, ``p2`` ``(1, C, 1, 1)`` or None
    (ACON-A/B: ``p1 = 1``; ACON-A: no ``p2 x`` term); ``beta`` ``(1, C, 1,
    1)``, or None with a switching ``network`` (Meta-ACON)."""
    p1: Optional[Tensor]
    p2: Optional[Tensor]
    beta: Optional[Tensor]
    network: Optional[HyperNetwork] = None


def acon(x: Tensor, layer_parameters: Acon, layer: str = 'acon') -> Tensor:
    """ACON-C ``(p1 - p2) x sigmoid(beta (p1 - p2) x) + p2 x`` as one node.

    Args:
        x: Input ``(N, C, H, W)``, floating point.
        layer_parameters: See :class:`Acon`.
        layer: Name of the calling layer, for error messages.

    Returns:
        Tensor shaped, typed and laid out like ``x``.
    """
    p1, p2, beta, network = layer_parameters
    if network is None:
        if records_graph(x, p1, p2, beta):
            return AconFunction.apply(x, p1, p2, beta, None, layer)
        form = _passes.inference_form(x, layer)
        if form is not None and x.dtype == beta.dtype:
            return _inference(form, x, p1, p2, beta)
        return _passes(x, layer).forward(x, p1, p2, beta, False, layer)
    parameters = network.parameters
    if records_graph(x, p1, p2, *parameters):
        return AconFunction.apply(x, p1, p2, None, network, layer, *parameters)
    form = _passes.inference_form(x, layer)
    if form is not None and x.dtype == parameters[0].dtype:
        logits, _ = network.forward(x.mean((2, 3)))
        return _inference(form, x, p1, p2,
                          torch.sigmoid(logits)[:, :, None, None])
    return acon_forward(_passes(x, layer), x, p1, p2, None, network, layer)[0]


@inference_kernel
def _inference(x: Tensor, p1: Optional[Tensor], p2: Optional[Tensor],
               beta: Tensor) -> Tensor:
    """``y`` without autograd: one fused kernel on a CPU, or as written
    three or four element-wise aten ops with the temporaries reused: ``u =
    (p1 - p2) x``, ``y = u sigmoid(beta u) + p2 x`` (ACON-A: ``x
    sigmoid(beta x)``)."""
    u = x
    if p1 is not None or p2 is not None:
        dp = 1.0 - p2 if p1 is None else (p1 if p2 is None else p1 - p2)
        u = x * dp
    y = u * beta
    y.sigmoid_().mul_(u)
    return y if p2 is None else y.addcmul_(p2, x)


def acon_op(x: Tensor, p1: Optional[Tensor], p2: Optional[Tensor],
            beta: Tensor) -> Tensor:
    """The ``mmdynact::acon`` custom op (for ``torch.compile``): ``beta``
    given, ``(1, C, 1, 1)`` or ``(N, C, 1, 1)``."""
    return _acon_op(x, p1, p2, beta)


def count_flops(shapes: List[Optional[Tuple[int, ...]]]) -> int:
    """FLOPs of ``mmdynact::acon`` from its input shapes ``(x, p1, p2,
    beta)``: 5 per element, ``(p1 - p2) x``, ``beta *``, sigmoid, product,
    ``+ p2 x``."""
    return 5 * math.prod(shapes[0])


#: the node's custom op in the staged path (``torch.compile``, FLOP
#: counting), whose FLOPs :func:`count_flops` counts
AconFunction.custom_op = 'mmdynact::acon'
AconFunction.count_flops = staticmethod(count_flops)
