"""The export form of the layers: their plain formulas, in standard ops.

The layers' training forward runs memory-lean kernels (:mod:`mmdynact.ops`):
custom autograd functions, and ``torch.library`` custom ops under dynamo.
Neither ONNX exporter, ``torch.export`` nor a saved TorchScript trace can
hold them (an ONNX graph would need a custom domain, a trace holds
``prim::PythonOp`` nodes that ``torch.jit.save`` refuses). While a model is
being exported or traced, each layer's forward therefore returns its
``formula(x)``: the same output from standard aten ops (convolutions,
sigmoid, softmax, max, ...), which every exporter translates.

FLOP counting (:mod:`mmdynact.analysis.complexity`) traces models to count
the kernels by their ``prim::PythonOp`` nodes; it traces inside
:func:`kernels_in_traces`, where ``torch.jit.trace`` records the kernels.
"""
import threading
from contextlib import contextmanager
from typing import Iterator, NoReturn

import torch

_traces = threading.local()


def exporting() -> bool:
    """Whether the layers run their export form (plain formula) now.

    True under ``torch.onnx.export`` (both exporters), ``torch.export``
    (``torch.compiler.is_exporting()``) and ``torch.jit.trace`` (except
    inside :func:`kernels_in_traces`). False in eager runs and under
    ``torch.compile``, where the kernels are custom ops with fake
    implementations.
    """
    if torch.compiler.is_compiling():
        return torch.compiler.is_exporting()
    if torch.onnx.is_in_onnx_export():
        return True
    return torch.jit.is_tracing() and not getattr(_traces, 'kernels', False)


@contextmanager
def kernels_in_traces() -> Iterator[None]:
    """Within, ``torch.jit.trace`` records the layers' kernels.

    The trace then holds one ``prim::PythonOp`` node per kernel call, which
    the FLOP handles count (such a trace cannot be saved). ONNX export
    still gets the plain formulas.
    """
    previous = getattr(_traces, 'kernels', False)
    _traces.kernels = True
    try:
        yield
    finally:
        _traces.kernels = previous


def refuse_scripting(layer: torch.nn.Module) -> NoReturn:
    """Raise the error ``torch.jit.script`` gives for ``layer``."""
    name = type(layer).__name__
    raise RuntimeError(
        f'{name} cannot be compiled by torch.jit.script: its forward runs '
        f'custom autograd kernels (mmdynact.ops), which TorchScript cannot '
        f'hold. Use torch.jit.trace(model.eval(), example_inputs) (the '
        f'layers trace as their plain formula, and the trace can be saved), '
        f'torch.onnx.export, or tools/deployment/pytorch2onnx.py')
