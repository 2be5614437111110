"""Views of an activation input as ``(N, C, S)``, and the precision used.

The torch forms of the kernels, like the Triton ones, see ``(N, C, *)`` as
three dimensions: ``(N, C, S)`` when it is stored contiguously, ``(N, S, C)``
when it is channels-last (a view in both cases, never a copy). Reductions
over one flat dimension fuse well under inductor. All forms compute in
float32, or float64 for float64 input (:func:`acc_dtype`).
"""
from typing import Tuple

import torch
from torch import Tensor

from .triton_support import is_channels_last


def acc_dtype(x: Tensor) -> torch.dtype:
    """The dtype to compute ``x``'s kernels in: float64 for float64 input,
    float32 otherwise."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def as_3d(x: Tensor) -> Tuple[Tensor, int]:
    """``(x3, channel_dim)``: ``x`` as ``(N, C, S)`` (channel_dim 1) or, if
    channels-last, as ``(N, S, C)`` (channel_dim 2)."""
    n, c = x.shape[:2]
    if is_channels_last(x):
        return x.permute(0, 2, 3, 1).reshape(n, -1, c), 2
    return x.reshape(n, c, -1), 1


def from_3d(x3: Tensor, like: Tensor, channel_dim: int) -> Tensor:
    """Undo :func:`as_3d` for a result ``x3`` computed on ``like``'s view."""
    if channel_dim == 2:
        n, c, h, w = like.shape
        return x3.view(n, h, w, c).permute(0, 3, 1, 2)
    return x3.view(like.shape)


def per_channel(values: Tensor, channel_dim: int) -> Tensor:
    """``(N, C)`` values broadcast against the :func:`as_3d` view."""
    return values[:, :, None] if channel_dim == 1 else values[:, None, :]


def per_position(values: Tensor, channel_dim: int) -> Tensor:
    """``(N, 1, *)`` values broadcast against the :func:`as_3d` view."""
    n = values.shape[0]
    return (values.reshape(n, 1, -1) if channel_dim == 1 else values.reshape(
        n, -1, 1))
