"""``pi = min(gamma * softmax(z / tau), 1)`` over all positions of a map.

The spatial attention of DY-ReLU-C (Chen et al., ECCV 2020), with
``gamma = (number of positions) / 3``: a softmax over the H*W positions of
each sample, scaled so that a uniform map gives 1/3, and clipped at 1.
"""
import torch
from torch import Tensor

from .backend import fused_kernel


@fused_kernel
def bounded_softmax(z: Tensor, temperature: Tensor) -> Tensor:
    """``min(gamma softmax(z / temperature), 1)`` per sample of ``z``.

    Args:
        z: Logits ``(N, 1, H, W)`` (any shape ``(N, ...)``).
        temperature: Softmax temperature ``tau``, a scalar tensor.

    Returns:
        ``pi`` shaped like ``z``; differentiable (the fused form compiles
        forward and backward).
    """
    flat = z.flatten(1)
    attention = torch.softmax(flat / temperature, dim=1)
    return (attention * (flat.shape[1] / 3)).clamp(max=1).view_as(z)
