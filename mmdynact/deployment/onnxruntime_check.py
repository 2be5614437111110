"""An exported ONNX file run by onnxruntime, against the PyTorch module.

The difference of each output is measured as its largest absolute
difference, and relative to the output's largest magnitude::

    abs = max |y_onnx - y_torch|,    rel = abs / max |y_torch|

(a scale-aware measure that, unlike an element-wise ratio, does not blow up
at outputs near zero); a model's difference is the worst over its outputs,
and a NaN in either counts as infinitely far.
"""
import copy
import math
from typing import List, NamedTuple, Sequence, Tuple

import torch
from torch import Tensor, nn
from torch.utils._pytree import tree_leaves

from .onnx_export import INPUT_NAME, require

#: the project's target for the relative difference
DEFAULT_RTOL = 1e-4


class Difference(NamedTuple):
    """How far onnxruntime's outputs are from PyTorch's on one input."""
    input_shape: Tuple[int, ...]
    max_abs: float
    max_rel: float

    def __str__(self) -> str:
        return (f'input {self.input_shape}: max abs difference '
                f'{self.max_abs:.3g}, max relative difference '
                f'{self.max_rel:.3g}')


def random_batch(shape: Sequence[int], seed: int) -> Tensor:
    """A seeded standard-normal batch (the scale of normalized images)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(tuple(shape), generator=generator)


def second_shape(shape: Sequence[int]) -> Tuple[int, ...]:
    """Another batch size, height and width than ``(N, C, H, W)``'s, to
    check that a dynamic export did not keep the example's sizes."""
    batch, channels, height, width = shape
    return (batch + 1, channels, height + 32, width + 64)


def run_onnxruntime(path: str, inputs: Tensor) -> List[Tensor]:
    """The outputs of the ONNX file ``path`` on ``inputs`` (CPU)."""
    require('onnxruntime', 'checking an ONNX file')
    import onnxruntime
    session = onnxruntime.InferenceSession(
        path, providers=['CPUExecutionProvider'])
    outputs = session.run(None, {INPUT_NAME: inputs.detach().cpu().numpy()})
    return [torch.from_numpy(output) for output in outputs]


def compare_with_onnxruntime(module: nn.Module, path: str,
                             inputs: Tensor) -> Difference:
    """onnxruntime's outputs of ``path`` against ``module(inputs)`` (run in
    eval mode, as it is)."""
    module.eval()
    with torch.no_grad():
        expected = tree_leaves(module(inputs))
    actual = run_onnxruntime(path, inputs)
    if len(actual) != len(expected):
        raise RuntimeError(f'{path} has {len(actual)} outputs, the module '
                           f'returns {len(expected)}')
    return _difference(inputs, actual, expected, path)


def float32_rounding(module: nn.Module, inputs: Tensor) -> Difference:
    """``module(inputs)`` in float32 against a float64 copy of it: how much
    the model itself amplifies float32 rounding on ``inputs``. Two float32
    implementations (PyTorch, onnxruntime) cannot be expected to agree much
    better than this."""
    module.eval()
    with torch.no_grad():
        actual = tree_leaves(module(inputs))
        expected = tree_leaves(copy.deepcopy(module).double()(inputs.double()))
    return _difference(inputs, actual, expected, 'the float32 model')


def _difference(inputs: Tensor, actual: List[Tensor], expected: List[Tensor],
                name: str) -> Difference:
    """The worst :class:`Difference` over corresponding outputs."""
    max_abs = max_rel = 0.0
    for index, (output, reference) in enumerate(zip(actual, expected)):
        output = output.detach().cpu().double()
        reference = reference.detach().cpu().double()
        if output.shape != reference.shape:
            raise RuntimeError(
                f'{name}: output {index} has shape {tuple(output.shape)} on '
                f'input {tuple(inputs.shape)}, the module gives '
                f'{tuple(reference.shape)}')
        difference = float((output - reference).abs().max())
        scale = float(reference.abs().max())
        if math.isnan(difference) or math.isnan(scale):
            difference = math.inf
        relative = difference / scale if scale > 0 else (
            0.0 if difference == 0 else math.inf)
        max_abs = max(max_abs, difference)
        max_rel = max(max_rel, relative)
    return Difference(tuple(inputs.shape), max_abs, max_rel)
