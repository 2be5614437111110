"""Which path a layer call takes.

* **One node** (the default): the layer's single autograd function of
  :mod:`mmdynact.ops`, Triton kernels on CUDA, the torch form elsewhere.
* **Staged** (:func:`runs_staged`), inside ``torch.compile``: the pooling
  and the small networks as plain modules that dynamo traces, the
  element-wise core as the family's ``torch.library`` custom op, so the
  whole model compiles without graph breaks. FLOP counting traces this
  path too (:func:`staged`): every part is then an op of its own, counted
  by its own handle.
* **The plain formula** (:func:`runs_formula`) for inputs without elements
  (an image without proposals hands mmdet's RoI heads ``N = 0``): autograd
  gives the empty output and zero-size gradients of every parameter.
"""
import contextlib
from typing import Iterator

import torch
from torch import Tensor

_staged = 0


@contextlib.contextmanager
def staged() -> Iterator[None]:
    """Run the layers' staged path in the enclosed code."""
    global _staged
    _staged += 1
    try:
        yield
    finally:
        _staged -= 1


def runs_staged() -> bool:
    """Whether the layers take the staged path (see the module doc)."""
    return _staged > 0 or torch.compiler.is_compiling()


def runs_formula(x: Tensor) -> bool:
    """Whether a layer takes its plain formula for ``x``."""
    return x.numel() == 0
