"""Parameters and FLOPs of models with mmdynact activations.

mmengine's :class:`~mmengine.analysis.FlopAnalyzer` traces the model with
``torch.jit.trace`` and counts the ops it has handles for: convolutions and
linear layers (so FReLU's funnel conv, DY-ReLU's hyper-function FCs,
DY-ReLU-C's spatial conv and Meta-ACON's switching network are counted
already), batch norms, pooling. The element-wise cores of mmdynact's layers
run as one autograd node each; for counting they take their staged path
(:func:`~mmdynact.models.activations.dispatch.staged`): the pooling and
the small networks as plain modules, the element-wise core (DY-ReLU's
pieces with its coefficient sigmoids and spatial softmax, ACON, FReLU's
funnel conv with its batch norm and max) as a ``torch.library`` custom op
(``mmdynact::...``), which mmengine would count as zero.
:func:`flop_analyzer` adds a handle for every kernel of every registered
activation
(:data:`~mmdynact.models.activations.ACTIVATIONS`, at the time of the
call), which counts itself (``count_flops``: one FLOP per element-wise
multiply-add, comparison, multiplication or sigmoid; mmengine counts one
FLOP per multiply-add), and handles for the gating ops of the
hyper-functions that mmengine does not count: ``aten::mean`` (1 per input
element), ``aten::sigmoid`` (1 per element), ``aten::softmax`` (3 per
element: exp, sum, divide). ReLU and the residual additions count zero, as
in mmengine, except inside reference-only layers, whose formulas are counted
op by op (:mod:`.formula_flops`). :func:`unhandled_python_ops` lists custom
ops without a handle, so a new kernel cannot go uncounted silently.
"""
import copy
import warnings
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import torch
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.analysis.jit_handles import (Handle, elementwise_flop_counter,
                                           get_shape)
from torch import nn

from mmdynact.models.activations import ACTIVATIONS, ChannelActivation
from mmdynact.models.activations.dispatch import staged
from .formula_flops import (formula_flop_handles, reference_only_scopes,
                            uncounted_formula_ops)


def _kernel_handle(kernel: type) -> Handle:
    """A FlopAnalyzer handle calling ``kernel.count_flops(shapes)`` (None
    for an input that is not a tensor)."""

    def handle(inputs: List[Any], outputs: List[Any]) -> int:
        shapes = [get_shape(v) for v in inputs]
        return kernel.count_flops(
            [None if shape is None else tuple(shape) for shape in shapes])

    return handle


#: handles of the hyper-functions' gating ops, which mmengine counts as zero
GATING_FLOP_HANDLES = {
    'aten::mean': elementwise_flop_counter(1, 0),
    'aten::sigmoid': elementwise_flop_counter(1, 0),
    'aten::softmax': elementwise_flop_counter(3, 0),
}


def activation_flop_handles() -> Dict[str, Handle]:
    """Handles of every kernel of the registered activations, and of the
    gating ops (see the module docstring)."""
    return {
        **{
            kernel.custom_op: _kernel_handle(kernel)
            for cls in ACTIVATIONS.values()
            for kernel in cls.spec.kernels
        },
        **GATING_FLOP_HANDLES,
    }


class _StagedFlopAnalyzer(FlopAnalyzer):
    """A ``FlopAnalyzer`` that traces the layers' staged path."""

    def _analyze(self):
        with staged():
            return super()._analyze()


def flop_analyzer(model: nn.Module, inputs: Tuple) -> FlopAnalyzer:
    """mmengine's ``FlopAnalyzer`` with the handles described above."""
    analyzer = _StagedFlopAnalyzer(model, inputs)
    analyzer.set_op_handle(
        **formula_flop_handles(reference_only_scopes(model)),
        **activation_flop_handles())
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    return analyzer


def unhandled_python_ops(model: nn.Module, inputs: Tuple) -> List[str]:
    """Names of the custom ops (autograd functions, ``mmdynact::`` ops) in
    the counted trace of ``model(*inputs)`` with no handle."""
    with torch.no_grad(), warnings.catch_warnings(), staged():
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        graph = torch.jit.trace(
            model, inputs, check_trace=False, strict=False).inlined_graph
    names = {
        f'prim::PythonOp.{node.pyname()}'
        if node.kind() == 'prim::PythonOp' else node.kind()
        for node in graph.nodes() if node.kind() == 'prim::PythonOp'
        or node.kind().startswith('mmdynact::')
    }
    return sorted(names - set(activation_flop_handles()))


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
    """``(flops, params)`` of ``model(*inputs)`` in eval mode.

    Warns, naming the layer, about ops of a reference-only layer's formula
    that have no FLOP handle (they count zero).
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter('ignore', torch.jit.TracerWarning)
            analyzer = flop_analyzer(model, inputs)
            flops = analyzer.total()
    finally:
        model.train(was_training)
    uncounted = uncounted_formula_ops(analyzer, reference_only_scopes(model))
    for name, ops in uncounted.items():
        warnings.warn(f'FLOPs of the reference-only layer {name!r} count '
                      f'{", ".join(ops)} as zero: no FLOP handle; add them '
                      f'to mmdynact.analysis.formula_flops.FORMULA_OPS if '
                      f'they compute')
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
