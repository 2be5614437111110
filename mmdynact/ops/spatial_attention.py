"""DY-ReLU-C's spatial attention ``pi = min(gamma softmax(z / tau), 1)``.

Chen et al., "Dynamic ReLU", ECCV 2020: a softmax over the ``S`` positions
of each sample, scaled by ``gamma = S / 3`` (:func:`attention_gamma`) so
that a uniform map gives 1/3, and clipped at 1. The DY-ReLU kernels never
store ``pi``: they keep the logits ``z`` ``(N, S)`` and per-sample softmax
statistics ``(m, l)``, the largest scaled logit and the sum of exponentials
below it, and recompute

    pi[n, s] = min(gamma * exp(z[n, s] / tau - m[n]) / l[n], 1)

wherever they need it (subtracting the largest logit keeps full precision
for logits of any size). Backward, for ``grad_pi``:

    p = exp(z / tau - m) / l,  gp = gamma * grad_pi * [gamma p <= 1],
    grad_z = p * (gp - sum_s p * gp) / tau.
"""
import torch
from torch import Tensor

from .triton_support import acc_type, tl, triton

#: positions per step of the per-sample loops
BLOCK = 1024


def attention_gamma(s: int) -> float:
    """The scale ``gamma = S / 3`` of the softmax over ``S`` positions: a
    uniform attention map is 1/3 everywhere."""
    return s / 3


# ---------------------------------------------------------------- Triton


@triton.jit
def attention(z_ptr, stats_ptr, tau_ptr, gamma, n, s, s_ok, S,
              ACC: tl.constexpr):
    """``pi[n, s]`` for a block of positions ``s`` of sample ``n``."""
    z = tl.load(z_ptr + n.to(tl.int64) * S + s, mask=s_ok, other=0).to(ACC)
    largest = tl.load(stats_ptr + 2 * n).to(ACC)
    total = tl.load(stats_ptr + 2 * n + 1).to(ACC)
    p = tl.exp(z / tl.load(tau_ptr).to(ACC) - largest) / total
    return tl.minimum(gamma * p, 1.0)


@triton.jit(do_not_specialize=['S'])
def _softmax_stats_kernel(z_ptr, tau_ptr, stats_ptr, S, BLOCK: tl.constexpr,
                          ACC: tl.constexpr):
    """``stats[n] = (m, l)``: the largest ``z / tau`` of sample ``n`` and
    ``sum_s exp(z / tau - m)``."""
    n = tl.program_id(0)
    z_ptr += n.to(tl.int64) * S
    inv_tau = 1.0 / tl.load(tau_ptr).to(ACC)
    top = tl.full([BLOCK], float('-inf'), ACC)
    for start in range(0, S, BLOCK):
        s = start + tl.arange(0, BLOCK)
        z = tl.load(z_ptr + s, mask=s < S, other=float('-inf')).to(ACC)
        top = tl.maximum(top, z * inv_tau)
    largest = tl.max(top, axis=0)
    total = tl.zeros([BLOCK], ACC)
    for start in range(0, S, BLOCK):
        s = start + tl.arange(0, BLOCK)
        z = tl.load(z_ptr + s, mask=s < S, other=float('-inf')).to(ACC)
        total += tl.where(s < S, tl.exp(z * inv_tau - largest), 0.0)
    tl.store(stats_ptr + 2 * n, largest)
    tl.store(stats_ptr + 2 * n + 1, tl.sum(total, axis=0))


@triton.jit
def _softmax_and_gradient(z_ptr, grad_pi_ptr, s, s_ok, inv_tau, largest, total,
                          gamma, ACC: tl.constexpr):
    """``(p, gp)`` at positions ``s``: the softmax and the gradient that
    reaches it through ``min(gamma p, 1)``."""
    z = tl.load(z_ptr + s, mask=s_ok, other=0).to(ACC)
    p = tl.exp(z * inv_tau - largest) / total
    grad = tl.load(grad_pi_ptr + s, mask=s_ok, other=0).to(ACC)
    return p, tl.where(s_ok & (gamma * p <= 1.0), gamma * grad, 0.0)


@triton.jit(do_not_specialize=['S'])
def _softmax_backward_kernel(grad_pi_ptr, z_ptr, tau_ptr, stats_ptr,
                             grad_z_ptr, S, gamma, BLOCK: tl.constexpr,
                             ACC: tl.constexpr):
    """``grad_z`` of one sample from ``grad_pi``."""
    n = tl.program_id(0)
    offset = n.to(tl.int64) * S
    z_ptr += offset
    grad_pi_ptr += offset
    grad_z_ptr += offset
    inv_tau = 1.0 / tl.load(tau_ptr).to(ACC)
    largest = tl.load(stats_ptr + 2 * n).to(ACC)
    total = tl.load(stats_ptr + 2 * n + 1).to(ACC)
    dot = tl.zeros([BLOCK], ACC)
    for start in range(0, S, BLOCK):
        s = start + tl.arange(0, BLOCK)
        p, grad_p = _softmax_and_gradient(z_ptr, grad_pi_ptr, s, s < S,
                                          inv_tau, largest, total, gamma, ACC)
        dot += p * grad_p
    weighted = tl.sum(dot, axis=0)
    for start in range(0, S, BLOCK):
        s = start + tl.arange(0, BLOCK)
        p, grad_p = _softmax_and_gradient(z_ptr, grad_pi_ptr, s, s < S,
                                          inv_tau, largest, total, gamma, ACC)
        tl.store(grad_z_ptr + s, p * (grad_p - weighted) * inv_tau, mask=s < S)


def triton_softmax_stats(z: Tensor, temperature: Tensor) -> Tensor:
    """``(m, l)`` per sample of ``z`` ``(N, S)``, shaped ``(N, 2)``."""
    n, s = z.shape
    stats = z.new_empty((n, 2))
    _softmax_stats_kernel[(n, )](
        z_ptr=z,
        tau_ptr=temperature,
        stats_ptr=stats,
        S=s,
        BLOCK=BLOCK,
        ACC=acc_type(z.dtype),
        num_warps=4)
    return stats


def triton_attention_backward(grad_pi: Tensor, z: Tensor, stats: Tensor,
                              temperature: Tensor) -> Tensor:
    """``grad_z`` ``(N, S)`` from ``grad_pi`` ``(N, S)``."""
    n, s = z.shape
    grad_z = torch.empty_like(z)
    _softmax_backward_kernel[(n, )](
        grad_pi_ptr=grad_pi,
        z_ptr=z,
        tau_ptr=temperature,
        stats_ptr=stats,
        grad_z_ptr=grad_z,
        S=s,
        gamma=attention_gamma(s),
        BLOCK=BLOCK,
        ACC=acc_type(z.dtype),
        num_warps=4)
    return grad_z


# ------------------------------------------------------------ torch form


def torch_softmax_stats(z: Tensor, temperature: Tensor) -> Tensor:
    """``(m, l)`` per sample of ``z`` ``(N, S)``, shaped ``(N, 2)``."""
    scaled = z / temperature
    largest = scaled.amax(1, keepdim=True)
    total = torch.exp(scaled - largest).sum(1, keepdim=True)
    return torch.cat([largest, total], 1)


def _softmax(z: Tensor, stats: Tensor, temperature: Tensor) -> Tensor:
    return torch.exp(z / temperature - stats[:, :1]) / stats[:, 1:]


def torch_attention(z: Tensor, stats: Tensor, temperature: Tensor) -> Tensor:
    """``pi`` ``(N, S)``."""
    return (_softmax(z, stats, temperature) *
            attention_gamma(z.shape[1])).clamp(max=1)


def torch_attention_backward(grad_pi: Tensor, z: Tensor, stats: Tensor,
                             temperature: Tensor) -> Tensor:
    """``grad_z`` ``(N, S)`` from ``grad_pi`` ``(N, S)``."""
    gamma = attention_gamma(z.shape[1])
    p = _softmax(z, stats, temperature)
    grad_p = torch.where(gamma * p <= 1, gamma * grad_pi, 0)
    weighted = (p * grad_p).sum(1, keepdim=True)
    return p * (grad_p - weighted) / temperature


def bounded_softmax(z: Tensor, temperature: Tensor) -> Tensor:
    """``min(gamma softmax(z / tau), 1)`` per sample, as plain autograd ops
    (for introspection and references; the layers use the kernels)."""
    flat = z.flatten(1)
    attention_map = torch.softmax(flat / temperature, dim=1)
    return (attention_map *
            attention_gamma(flat.shape[1])).clamp(max=1).view_as(z)
