"""Which path a layer call takes.

* **One node** (the default): the layer's single autograd function of
  :mod:`mmdynact.ops`, Triton kernels on CUDA, the torch form elsewhere.
* **Staged**, inside ``torch.compile``: the pooling
  and the small networks as plain modules that dynamo traces, the
  element-wise core as the family's ``torch.library`` custom op, so the
  whole model compiles without graph breaks. FLOP counting traces this
  path too (:func:`staged`): every part is then an op of its own, counted
  by its own handle.
* **The plain formula** (:func:`runs_formula`), built from standard aten
  ops, while a model is exported or traced (:func:`exporting`: ONNX, with
  either exporter, ``torch.export`` and ``torch.jit.trace`` cannot hold the
  nodes, an ONNX graph would need a custom domain, a saved trace cannot
  hold Python ops), and for inputs without elements (an image without
  proposals hands mmdet's RoI heads ``N = 0``): autograd gives the empty
  output and zero-size gradients of every parameter; and in code enclosed
  by :func:`formulas` (the inference benchmark times a whole model that
  way, against its kernels).
"""
import contextlib
from typing import Iterator

import torch
from torch import Tensor

_staged = 0
_formulas = 0


@contextlib.contextmanager
def staged() -> Iterator[None]:
    """Run the layers' staged path in the enclosed code."""
    global _staged
    _staged += 1
    try:
        yield
    finally:
        _staged -= 1


@contextlib.contextmanager
def formulas() -> Iterator[None]:
    """Run every layer's plain formula in the enclosed code."""
    global _formulas
    _formulas += 1
    try:
        yield
    finally:
        _formulas -= 1


def exporting() -> bool:
    """Whether a model is being exported or traced now: under
    ``torch.onnx.export`` (both exporters), ``torch.export`` and
    ``torch.jit.trace``, except the traces of FLOP counting
    (:func:`staged`). False in eager runs and under ``torch.compile``.

    Both ONNX exporters run the model traced (``torch.jit``'s tracer, or
    ``torch.export``, where dynamo's flag is up), so the ONNX flags are read
    only under a trace."""
    if torch.compiler.is_compiling():
        return torch.compiler.is_exporting()
    return torch.jit.is_tracing() and (not _staged
                                       or torch.onnx.is_in_onnx_export())


#: the paths of a layer call (see the module doc), as :func:`call_path`
#: names them
NODE, STAGED, FORMULA = 'node', 'staged', 'formula'


def call_path(x: Tensor) -> str:
    """The path a layer call on ``x`` takes: :data:`FORMULA` where
    :func:`runs_formula`, else :data:`STAGED` inside ``torch.compile`` or
    code enclosed by :func:`staged`, else :data:`NODE`."""
    if _formulas or x.numel() == 0 or exporting():
        return FORMULA
    return STAGED if _staged or torch.compiler.is_compiling() else NODE


def runs_formula(x: Tensor) -> bool:
    """Whether a layer takes its plain formula for ``x``: an input without
    elements, code enclosed by :func:`formulas`, or :func:`exporting`."""
    return call_path(x) is FORMULA
