"""FLOPs of reference-only layers: the aten ops of their formula.

A reference-only activation (``ActivationSpec()``, no kernels) runs its
plain formula, whose element-wise ops mmengine counts as zero: it has
handles for convolutions, linear layers, norms and pooling only. Inside such
a layer, and only there, the handles of :func:`formula_flop_handles` count
one FLOP per element of every op in :data:`FORMULA_OPS`, taking the larger
of its first input and its output (a broadcast op counts its output, a
reduction its input), as the kernels' ``count_flops`` count theirs.
Elsewhere these ops keep mmengine's zero (ReLU, residual additions), so a
model without reference-only layers counts as before.
"""
import math
from typing import Any, Collection, Dict, FrozenSet, List

from mmengine.analysis import FlopAnalyzer
from mmengine.analysis.jit_handles import Handle, get_shape
from torch import nn

#: element-wise ops and reductions a formula may use, one FLOP per element
#: (``sigmoid``, ``mean`` and ``softmax`` are counted everywhere, see
#: :mod:`.complexity`)
FORMULA_OPS = tuple(
    f'aten::{op}'
    for op in ('abs', 'add', 'add_', 'amax', 'amin', 'clamp', 'clamp_max',
               'clamp_min', 'div', 'div_', 'elu', 'erf', 'exp', 'expm1',
               'gelu', 'hardsigmoid', 'hardswish', 'hardtanh', 'leaky_relu',
               'log', 'log1p', 'logsumexp', 'max', 'maximum', 'min', 'minimum',
               'mish', 'mul', 'mul_', 'neg', 'pow', 'prelu', 'reciprocal',
               'relu', 'rsqrt', 'rsub', 'sign', 'silu', 'softplus', 'sqrt',
               'sub', 'sub_', 'sum', 'tanh', 'where'))


def reference_only_scopes(model: nn.Module) -> FrozenSet[str]:
    """Names of the reference-only activation layers in ``model``."""
    return frozenset(
        name for name, module in model.named_modules()
        if getattr(getattr(module, 'spec', None), 'reference_only', False))


def _in_scopes(node: Any, scopes: Collection[str]) -> bool:
    """Whether a traced node ran inside one of the modules ``scopes``."""
    return any(scope in scopes for scope in node.scopeName().split('/'))


def _numel(value: Any) -> int:
    shape = get_shape(value)
    return math.prod(shape) if shape is not None else 0


def _formula_handle(scopes: FrozenSet[str]) -> Handle:

    def handle(inputs: List[Any], outputs: List[Any]) -> int:
        if not _in_scopes(outputs[0].node(), scopes):
            return 0
        return max(_numel(inputs[0]), _numel(outputs[0]))

    return handle


def formula_flop_handles(scopes: FrozenSet[str]) -> Dict[str, Handle]:
    """FlopAnalyzer handles of :data:`FORMULA_OPS` that count inside the
    modules named ``scopes`` (see :func:`reference_only_scopes`)."""
    handle = _formula_handle(scopes)
    return {op: handle for op in FORMULA_OPS}


def uncounted_formula_ops(analyzer: FlopAnalyzer,
                          scopes: Collection[str]) -> Dict[str, List[str]]:
    """Ops without a FLOP handle in each reference-only layer (counted as
    zero), by layer name; layers without any are left out."""
    uncounted = {
        scope: sorted(analyzer.unsupported_ops(scope))
        for scope in sorted(scopes)
    }
    return {scope: ops for scope, ops in uncounted.items() if ops}
