"""Adaptive average pooling as ONNX can hold it for any input size.

ONNX has no adaptive pooling: the legacy exporter writes
``AdaptiveAvgPool2d(s)`` as a fixed ``AvgPool`` only when the input size is
known and a multiple of ``s`` (PSPNet's pyramid pooling, ``s = 1, 2, 3, 6``
on a 1/8-size feature map, fails either way), and the dynamo exporter bakes
the sample's bin indices into the graph, so another input size reads out of
bounds. :class:`ExportableAdaptiveAvgPool2d` computes the same bins from the
input's size at run time, with matrix products:

    y = P_H x P_W^T,    P[i, h] = 1 / (e_i - b_i)  if b_i <= h < e_i else 0

with torch's bins ``b_i = floor(i H / s)``, ``e_i = ceil((i + 1) H / s)``
(an output size of ``None`` keeps that dimension).
"""
from typing import Optional, Tuple, Union

import torch
from torch import Tensor, nn


def _pool_matrix(size: Union[int, Tensor], bins: int, like: Tensor) -> Tensor:
    """``P`` ``(bins, size)``: row ``i`` averages torch's adaptive bin ``i``
    of a dimension of length ``size``."""
    positions = torch.arange(size, device=like.device)
    index = torch.arange(bins, device=like.device).unsqueeze(1)
    begin = torch.div(index * size, bins, rounding_mode='floor')
    end = torch.div((index + 1) * size + bins - 1, bins, rounding_mode='floor')
    inside = (positions >= begin) & (positions < end)
    return inside.to(like.dtype) / (end - begin).to(like.dtype)


class ExportableAdaptiveAvgPool2d(nn.Module):
    """``nn.AdaptiveAvgPool2d`` in standard ONNX ops, for any input size.

    Args:
        output_size: ``(s_H, s_W)``, as the module it replaces has it;
            ``None`` keeps that dimension.
    """

    def __init__(self, output_size: Tuple[Optional[int],
                                          Optional[int]]) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        rows, cols = self.output_size
        if rows is not None:
            x = _pool_matrix(x.shape[-2], rows, x) @ x
        if cols is not None:
            x = x @ _pool_matrix(x.shape[-1], cols, x).transpose(0, 1)
        return x

    def extra_repr(self) -> str:
        return f'output_size={self.output_size}'


def make_adaptive_pools_exportable(model: nn.Module) -> int:
    """Replace, in place, every ``nn.AdaptiveAvgPool2d`` of ``model`` whose
    output is larger than 1x1 (a 1x1 output is ONNX's
    ``GlobalAveragePool``); return how many were replaced."""
    replaced = 0
    for module in list(model.modules()):
        for name, child in module.named_children():
            if not isinstance(child, nn.AdaptiveAvgPool2d):
                continue
            size = _output_size(child)
            if size != (1, 1):
                setattr(module, name, ExportableAdaptiveAvgPool2d(size))
                replaced += 1
    return replaced


def _output_size(
        pool: nn.AdaptiveAvgPool2d) -> Tuple[Optional[int], Optional[int]]:
    size = pool.output_size
    return (size,
            size) if size is None or isinstance(size, int) else tuple(size)
