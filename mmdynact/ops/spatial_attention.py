"""DY-ReLU-C's spatial attention ``pi = min(gamma softmax(z / tau), 1)``.

Chen et al., "Dynamic ReLU", ECCV 2020: a softmax over the ``S`` positions
of each sample, scaled by ``gamma = S / 3`` so that a uniform map gives 1/3,
and clipped at 1. The DY-ReLU kernels never store ``pi``: they keep the
logits ``z`` and the per-sample ``lse = logsumexp(z / tau)`` and recompute

    pi[n, s] = min(gamma * exp(z[n, s] / tau - lse[n]), 1)

wherever they need it. Backward, for ``grad_pi``:

    p = exp(z / tau - lse),  gp = gamma * grad_pi * [gamma p <= 1],
    grad_z = p * (gp - sum_s p * gp) / tau.
"""
import torch
from torch import Tensor

from .backend import torch_kernel
from .layout import acc_dtype
from .triton_support import acc_type, tl, triton

#: positions per step of the per-sample loops
BLOCK = 1024


@triton.jit
def attention(z_ptr, lse_ptr, tau_ptr, gamma, n, s, s_ok, S,
              ACC: tl.constexpr):
    """``pi[n, s]`` for a block of positions ``s`` of sample ``n``."""
    z = tl.load(z_ptr + n.to(tl.int64) * S + s, mask=s_ok, other=0).to(ACC)
    lse = tl.load(lse_ptr + n).to(ACC)
    tau = tl.load(tau_ptr).to(ACC)
    return tl.minimum(gamma * tl.exp(z / tau - lse), 1.0)


@triton.jit(do_not_specialize=['S'])
def _logsumexp_kernel(z_ptr, tau_ptr, lse_ptr, S, BLOCK: tl.constexpr,
                      ACC: tl.constexpr):
    n = tl.program_id(0)
    row = z_ptr + n.to(tl.int64) * S
    inv_tau = 1.0 / tl.load(tau_ptr).to(ACC)
    top = tl.full([BLOCK], float('-inf'), ACC)
    for start in range(0, S, BLOCK):
        s = start + tl.arange(0, BLOCK)
        z = tl.load(row + s, mask=s < S, other=float('-inf')).to(ACC)
        top = tl.maximum(top, z * inv_tau)
    largest = tl.max(top, axis=0)
    total = tl.zeros([BLOCK], ACC)
    for start in range(0, S, BLOCK):
        s = start + tl.arange(0, BLOCK)
        z = tl.load(row + s, mask=s < S, other=float('-inf')).to(ACC)
        total += tl.exp(z * inv_tau - largest)
    tl.store(lse_ptr + n, largest + tl.log(tl.sum(total, axis=0)))


@triton.jit
def _softmax_and_gradient(z_ptr, grad_pi_ptr, offset, s, s_ok, inv_tau, lse,
                          gamma, ACC: tl.constexpr):
    """``(p, gp)`` at positions ``s``: the softmax and the gradient that
    reaches it through ``min(gamma p, 1)``."""
    p = tl.exp(
        tl.load(z_ptr + offset + s, mask=s_ok, other=0).to(ACC) * inv_tau -
        lse)
    grad = tl.load(grad_pi_ptr + offset + s, mask=s_ok, other=0).to(ACC)
    return p, tl.where(gamma * p <= 1.0, gamma * grad, 0.0)


@triton.jit(do_not_specialize=['S'])
def _attention_backward_kernel(grad_pi_ptr, z_ptr, tau_ptr, lse_ptr,
                               grad_z_ptr, S, gamma, BLOCK: tl.constexpr,
                               ACC: tl.constexpr):
    n = tl.program_id(0)
    offset = n.to(tl.int64) * S
    inv_tau = 1.0 / tl.load(tau_ptr).to(ACC)
    lse = tl.load(lse_ptr + n).to(ACC)
    dot = tl.zeros([BLOCK], ACC)
    for start in range(0, S, BLOCK):
        s = start + tl.arange(0, BLOCK)
        p, grad_p = _softmax_and_gradient(z_ptr, grad_pi_ptr, offset, s, s < S,
                                          inv_tau, lse, gamma, ACC)
        dot += p * grad_p
    total = tl.sum(dot, axis=0)
    for start in range(0, S, BLOCK):
        s = start + tl.arange(0, BLOCK)
        p, grad_p = _softmax_and_gradient(z_ptr, grad_pi_ptr, offset, s, s < S,
                                          inv_tau, lse, gamma, ACC)
        tl.store(
            grad_z_ptr + offset + s,
            p * (grad_p - total) * inv_tau,
            mask=s < S)


def triton_logsumexp(z: Tensor, temperature: Tensor) -> Tensor:
    """``lse[n] = logsumexp(z[n] / tau)`` (float32; float64 for float64)."""
    z = z.contiguous()
    n = z.shape[0]
    lse = z.new_empty(n, dtype=acc_dtype(z))
    _logsumexp_kernel[(n, )](
        z, temperature, lse, z[0].numel(), BLOCK=BLOCK, ACC=acc_type(z.dtype))
    return lse


def triton_attention_backward(grad_pi: Tensor, z: Tensor, lse: Tensor,
                              temperature: Tensor) -> Tensor:
    """``grad_z`` (shaped and typed like ``z``) from ``grad_pi`` ``(N, S)``."""
    z = z.contiguous()
    n, s = z.shape[0], z[0].numel()
    grad_z = torch.empty_like(z)
    _attention_backward_kernel[(n, )](
        grad_pi,
        z,
        temperature,
        lse,
        grad_z,
        s,
        s / 3,
        BLOCK=BLOCK,
        ACC=acc_type(z.dtype))
    return grad_z


@torch_kernel
def torch_logsumexp(z: Tensor, temperature: Tensor) -> Tensor:
    return torch.logsumexp(z.flatten(1).to(acc_dtype(z)) / temperature, 1)


def torch_attention(z: Tensor, lse: Tensor, temperature: Tensor) -> Tensor:
    """``pi`` shaped like ``z``, in float32 (float64 for float64)."""
    flat = z.flatten(1).to(lse.dtype)
    gamma = flat.shape[1] / 3
    pi = torch.exp(flat / temperature - lse[:, None]) * gamma
    return pi.clamp(max=1).view(z.shape)


@torch_kernel
def torch_attention_backward(grad_pi: Tensor, z: Tensor, lse: Tensor,
                             temperature: Tensor) -> Tensor:
    flat = z.flatten(1).to(lse.dtype)
    gamma = flat.shape[1] / 3
    p = torch.exp(flat / temperature - lse[:, None])
    grad_p = torch.where(gamma * p <= 1, gamma * grad_pi.flatten(1), 0)
    dot = (p * grad_p).sum(1, keepdim=True)
    return (p * (grad_p - dot) / temperature).to(z.dtype).view(z.shape)


def bounded_softmax(z: Tensor, temperature: Tensor) -> Tensor:
    """``min(gamma softmax(z / tau), 1)`` per sample, as plain autograd ops
    (for introspection and references; the layers use the kernels)."""
    flat = z.flatten(1)
    attention_map = torch.softmax(flat / temperature, dim=1)
    return (attention_map * (flat.shape[1] / 3)).clamp(max=1).view_as(z)
