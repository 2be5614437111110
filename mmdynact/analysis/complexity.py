"""Parameters and FLOPs of models with mmdynact activations.

mmengine's :class:`~mmengine.analysis.FlopAnalyzer` traces the model with
``torch.jit.trace`` and counts the ops it has handles for: convolutions and
linear layers (so FReLU's funnel conv, DY-ReLU's hyper-function FCs,
DY-ReLU-C's spatial conv and Meta-ACON's switching network are counted
already), batch norms, pooling. The element-wise cores of mmdynact's layers
are custom ``torch.autograd.Function`` s (the pooling, DY-ReLU's pieces
with its coefficient sigmoids and spatial softmax, ACON, FReLU's funnel conv
with its batch norm and max), which the trace records as opaque
``prim::PythonOp`` nodes counted as zero (the analysis traces inside
:func:`~mmdynact.models.activations.kernels_in_traces`; other traces record
the layers' plain formulas instead). :func:`flop_analyzer` adds a
handle for every kernel of every registered activation
(:data:`~mmdynact.models.activations.ACTIVATIONS`), which counts itself
(``count_flops``: one FLOP per element-wise multiply-add, comparison,
multiplication or sigmoid; mmengine counts one FLOP per multiply-add), and
handles for the gating ops of the hyper-functions that mmengine does not
count: ``aten::mean`` (1 per input element), ``aten::sigmoid`` (1 per
element), ``aten::softmax`` (3 per element: exp, sum, divide). ReLU and the
residual additions count zero, as in mmengine. :func:`unhandled_python_ops`
lists custom ops without a handle, so a new kernel cannot go uncounted
silently.
"""
import copy
import warnings
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

import torch
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.analysis.jit_analysis import Statistics
from mmengine.analysis.jit_handles import elementwise_flop_counter, get_shape
from torch import nn

from mmdynact.models.activations import (ACTIVATIONS, ChannelActivation,
                                         kernels_in_traces)


def _kernel_handle(kernel: type) -> Callable[[List[Any], List[Any]], int]:
    """A FlopAnalyzer handle calling ``kernel.count_flops(shapes)``."""

    def handle(inputs: List[Any], outputs: List[Any]) -> int:
        return kernel.count_flops([tuple(get_shape(v)) for v in inputs])

    return handle


ACTIVATION_FLOP_HANDLES = {
    **{
        f'prim::PythonOp.{kernel.__name__}': _kernel_handle(kernel)
        for cls in ACTIVATIONS.values()
        for kernel in cls.spec.kernels
    },
    'aten::mean': elementwise_flop_counter(1, 0),
    'aten::sigmoid': elementwise_flop_counter(1, 0),
    'aten::softmax': elementwise_flop_counter(3, 0),
}


class KernelFlopAnalyzer(FlopAnalyzer):
    """mmengine's ``FlopAnalyzer``, tracing with the layers' kernels (its
    one method that traces, entered in :func:`kernels_in_traces`)."""

    def _analyze(self) -> Statistics:
        with kernels_in_traces():
            return super()._analyze()


def flop_analyzer(model: nn.Module, inputs: Tuple) -> FlopAnalyzer:
    """mmengine's ``FlopAnalyzer`` with the handles described above."""
    analyzer = KernelFlopAnalyzer(model, inputs)
    analyzer.set_op_handle(**ACTIVATION_FLOP_HANDLES)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    return analyzer


def unhandled_python_ops(model: nn.Module, inputs: Tuple) -> List[str]:
    """Names of custom autograd ops in ``model(*inputs)`` with no handle."""
    with torch.no_grad(), warnings.catch_warnings(), kernels_in_traces():
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        graph = torch.jit.trace(
            model, inputs, check_trace=False, strict=False).inlined_graph
    names = {
        f'prim::PythonOp.{node.pyname()}'
        for node in graph.nodes() if node.kind() == 'prim::PythonOp'
    }
    return sorted(names - set(ACTIVATION_FLOP_HANDLES))


def relu_twin(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every mmdynact activation replaced by ReLU."""
    twin = copy.deepcopy(model)
    for name, module in list(twin.named_modules()):
        for child_name, child in module.named_children():
            if isinstance(child, ChannelActivation):
                setattr(module, child_name, nn.ReLU(inplace=True))
    return twin


class Complexity(NamedTuple):
    """FLOPs and parameters of a model and of its ReLU twin."""
    flops: int
    params: int
    relu_flops: int
    relu_params: int

    @property
    def flops_overhead(self) -> float:
        """Extra FLOPs relative to the ReLU twin (0.05 = +5%)."""
        return self.flops / self.relu_flops - 1

    @property
    def params_overhead(self) -> float:
        """Extra parameters relative to the ReLU twin."""
        return self.params / self.relu_params - 1


def count(model: nn.Module, inputs: Tuple) -> Tuple[int, int]:
    """``(flops, params)`` of ``model(*inputs)`` in eval mode."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter('ignore', torch.jit.TracerWarning)
            flops = flop_analyzer(model, inputs).total()
    finally:
        model.train(was_training)
    return flops, parameter_count(model)['']


def complexity(model: nn.Module, inputs: Tuple) -> Complexity:
    """FLOPs and parameters of ``model`` and of its :func:`relu_twin`."""
    flops, params = count(model, inputs)
    relu_flops, relu_params = count(relu_twin(model), inputs)
    return Complexity(flops, params, relu_flops, relu_params)


def format_count(value: float, unit: Optional[str] = None) -> str:
    """``4.1G``, ``25.6M``-style formatting."""
    for unit_name, scale in (('G', 1e9), ('M', 1e6), ('K', 1e3)):
        if unit == unit_name or (unit is None and abs(value) >= scale):
            return f'{value / scale:.4g}{unit_name}'
    return f'{value:.4g}'


def summary(result: Complexity) -> Dict[str, str]:
    """Printable FLOPs, parameters and their overheads."""
    return {
        'FLOPs': format_count(result.flops),
        'Params': format_count(result.params),
        'ReLU FLOPs': format_count(result.relu_flops),
        'ReLU Params': format_count(result.relu_params),
        'FLOPs overhead': f'{100 * result.flops_overhead:+.2f}%',
        'Params overhead': f'{100 * result.params_overhead:+.2f}%',
    }
