"""The small networks of the dynamic layers, run inside the layer's node.

DY-ReLU's hyper-function (``FC -> ReLU -> FC``) and Meta-ACON's switching
network (``1x1 conv -> [BN] -> 1x1 conv -> [BN]``) map the pooled input
``(N, C)`` to the layer's coefficients; DY-ReLU-C's spatial norm maps its
logits ``(N, S)``. Each layer runs as one autograd node, so these networks
run inside it: :class:`HyperNetwork` computes their forward on the small
tensors and, in the node's backward, their gradients itself.

* **Explicit** (:class:`_Explicit`), when every stage is a linear layer or
  1x1 convolution, a ReLU, an identity or a batch norm that needs no
  communication: one aten op per stage forward (``addmm``, ``relu``,
  ``native_batch_norm``) and two or three in backward (``mm`` for the
  weight and the input, a sum for the bias; ``native_batch_norm_backward``).
  Batch norms in training update their running statistics as their own
  forward would.
* **Through the modules** (:class:`_ThroughModules`), for any other stage
  (a SyncBN that synchronises, GroupNorm, ...): the node's forward runs the
  modules themselves with autograd on a leaf holding the pooled input, and
  its backward asks autograd for that small graph's gradients, so every
  module keeps its exact semantics (SyncBN's all-reduce included).
"""
import weakref
from typing import List, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm


def batch_statistics(norm: _BatchNorm) -> bool:
    """Whether ``norm`` normalises with the batch's statistics (its own
    rule: in training, or without running statistics)."""
    return norm.training or norm.running_mean is None


def synchronises(norm: nn.Module) -> bool:
    """Whether a batch norm would communicate across processes."""
    return (isinstance(norm, nn.SyncBatchNorm) and batch_statistics(norm)
            and dist.is_available() and dist.is_initialized()
            and dist.get_world_size(norm.process_group) > 1)


def _explicit_stage(stage: nn.Module) -> bool:
    if isinstance(stage, (nn.ReLU, nn.Identity, nn.Linear)):
        return True
    if isinstance(stage, nn.Conv2d):
        return (stage.kernel_size == (1, 1) and stage.groups == 1
                and stage.stride == (1, 1) and stage.padding == (0, 0))
    return isinstance(stage, _BatchNorm) and not synchronises(stage)


def stage_momentum(norm: _BatchNorm) -> float:
    """The running-statistics factor of ``norm``'s next training forward,
    counting the batch (as ``_BatchNorm.forward`` does)."""
    norm.num_batches_tracked.add_(1)
    if norm.momentum is None:  # cumulative average
        return 1.0 / float(norm.num_batches_tracked)
    return norm.momentum


def check_batch(norm: _BatchNorm, count: int, layer: str, what: str) -> None:
    """Raise if ``norm`` would normalise ``count`` values by their batch
    statistics, which needs more than one."""
    if count < 2 and batch_statistics(norm):
        raise ValueError(
            f'{layer}: the batch norm of its {what} normalises each channel '
            f'by the batch statistics of {count} value(s) in training, which '
            f'needs more than one (a batch of one sample here). Use a larger '
            f'batch, put the norm in eval mode (norm_eval=True in the '
            f'backbone), or set the norm_cfg of the layer to None.')


class _StageState(NamedTuple):
    """What one explicit stage keeps for backward."""
    #: the stage's input (linear, norm) or output (ReLU)
    tensor: Tensor
    #: a batch norm's saved mean and inverse standard deviation
    mean: Optional[Tensor] = None
    invstd: Optional[Tensor] = None


#: networks built, per owning layer and role: ``(stages, parameters,
#: network)``
_BUILT: 'weakref.WeakKeyDictionary[nn.Module, dict]' = \
    weakref.WeakKeyDictionary()


def _stage_parameters(stages: Sequence[nn.Module]) -> Tuple[Tensor, ...]:
    """The weights and biases of ``stages``, in order."""
    found = []
    for stage in stages:
        own = stage._parameters
        for name in ('weight', 'bias'):
            parameter = own.get(name)
            if parameter is not None:
                found.append(parameter)
    return tuple(found)


def _same(first: tuple, second: tuple) -> bool:
    return len(first) == len(second) and all(a is b
                                             for a, b in zip(first, second))


class HyperNetwork:
    """A small network of ``stages`` (modules, applied in order) inside a
    layer's autograd node, on ``(N, F)`` vectors (1x1 convolutions act as
    linear layers on them) or ``(N, 1, H, W)`` maps (a norm over a map).

    Get it with :meth:`of` on every call: it is built once per layer and
    built anew when the layer's modules or parameters are replaced (e.g.
    by ``convert_sync_batchnorm``). Pass :attr:`parameters` to the node as
    inputs so that autograd hands their gradients back.
    """

    stages: Tuple[nn.Module, ...]
    parameters: Tuple[Tensor, ...]

    @staticmethod
    def of(stages: Tuple[nn.Module, ...], owner: nn.Module,
           role: str) -> 'HyperNetwork':
        """The network of ``stages``, the ``role`` network (e.g.
        ``'hyper-function'``) of the layer ``owner``."""
        parameters = _stage_parameters(stages)
        networks = _BUILT.get(owner)
        if networks is None:
            networks = _BUILT[owner] = {}
        built = networks.get(role)
        if (built is not None and _same(built[0], stages)
                and _same(built[1], parameters) and built[2].usable()):
            return built[2]
        if all(_explicit_stage(stage) for stage in stages):
            network: HyperNetwork = _Explicit(stages, parameters)
        else:
            network = _ThroughModules(stages, parameters)
        networks[role] = (stages, parameters, network)
        return network

    def __init__(self, stages: Tuple[nn.Module, ...],
                 parameters: Tuple[Tensor, ...]) -> None:
        self.stages = stages
        self.parameters = parameters

    def usable(self) -> bool:
        """Whether the network may still run as built (a batch norm may
        have started to synchronise since)."""
        return True

    def forward(self, v: Tensor) -> Tuple[Tensor, tuple]:
        """``(output, saved)`` for ``v``."""
        raise NotImplementedError

    def backward(self, saved: tuple, d_out: Tensor, need_input: bool,
                 needs: Sequence[bool]) -> Tuple[Optional[Tensor], list]:
        """``(d_v, [grad of each parameter or None])`` given ``d_out``;
        ``needs`` says which parameters need one."""
        raise NotImplementedError


def _as_matrix(t: Tensor) -> Tensor:
    """A linear layer's or 1x1 convolution's weight as ``(out, in)``, or
    its input or output ``(N, F[, 1, 1])`` as ``(N, F)``."""
    return t if t.dim() == 2 else t.flatten(1)


def _like(matrix: Tensor, like: Tensor) -> Tensor:
    """``matrix`` ``(N, F)`` with ``like``'s trailing size-1 dimensions."""
    return matrix if like.dim() == 2 else matrix.view(matrix.shape +
                                                      like.shape[2:])


_LINEAR, _RELU, _NORM = 'linear', 'relu', 'norm'


class _Step(NamedTuple):
    """An explicit stage: its kind, module, weight and bias, and where its
    parameters start in :attr:`HyperNetwork.parameters`."""
    kind: str
    module: nn.Module
    weight: Optional[Tensor]
    bias: Optional[Tensor]
    index: int


class _Explicit(HyperNetwork):
    """Linear layers, 1x1 convolutions, ReLUs and batch norms, their
    gradients written out (see the module docstring)."""

    def __init__(self, stages: Tuple[nn.Module, ...],
                 parameters: Tuple[Tensor, ...]) -> None:
        super().__init__(stages, parameters)
        steps = []
        index = 0
        for stage in stages:
            if isinstance(stage, nn.Identity):
                continue
            own = stage._parameters
            weight, bias = own.get('weight'), own.get('bias')
            kind = (
                _RELU if isinstance(stage, nn.ReLU) else
                _NORM if isinstance(stage, _BatchNorm) else _LINEAR)
            steps.append(_Step(kind, stage, weight, bias, index))
            index += (weight is not None) + (bias is not None)
        self.steps = tuple(steps)
        self.norms = tuple(s.module for s in steps if s.kind is _NORM)

    def usable(self) -> bool:
        return not any(synchronises(norm) for norm in self.norms)

    def forward(self, v: Tensor) -> Tuple[Tensor, tuple]:
        if torch.is_autocast_enabled(v.device.type):
            with torch.autocast(v.device.type, enabled=False):
                return self._forward(v)
        return self._forward(v)

    def _forward(self, v: Tensor) -> Tuple[Tensor, tuple]:
        states: List[_StageState] = []
        for step in self.steps:
            if step.kind is _RELU:
                v = torch.relu(v)
                states.append(_StageState(v))
            elif step.kind is _NORM:
                out, mean, invstd = self._norm_forward(step, v)
                states.append(_StageState(v, mean, invstd))
                v = out
            else:
                states.append(_StageState(v))
                weight = _as_matrix(step.weight).t()
                out = (
                    torch.mm(_as_matrix(v), weight) if step.bias is None else
                    torch.addmm(step.bias, _as_matrix(v), weight))
                v = _like(out, v)
        return v, tuple(states)

    @staticmethod
    def _norm_forward(step: _Step, v: Tensor):
        norm = step.module
        momentum = 0.0
        if norm.training and norm.track_running_stats:
            momentum = stage_momentum(norm)
        return torch.native_batch_norm(v, step.weight, step.bias,
                                       norm.running_mean, norm.running_var,
                                       batch_statistics(norm), momentum,
                                       norm.eps)

    def backward(self, saved: tuple, d_out: Tensor, need_input: bool,
                 needs: Sequence[bool]) -> Tuple[Optional[Tensor], list]:
        grads: List[Optional[Tensor]] = [None] * len(self.parameters)
        d = d_out
        for position in range(len(self.steps) - 1, -1, -1):
            step, state = self.steps[position], saved[position]
            if step.kind is _RELU:
                d = torch.ops.aten.threshold_backward(d, state.tensor, 0)
                continue
            index = step.index
            has_weight = step.weight is not None
            need_w = has_weight and needs[index]
            need_b = step.bias is not None and needs[index + has_weight]
            last = position == 0 and not need_input
            if step.kind is _NORM:
                norm = step.module
                backward = torch.ops.aten.native_batch_norm_backward
                d_v, grad_w, grad_b = backward(d, state.tensor, step.weight,
                                               norm.running_mean,
                                               norm.running_var, state.mean,
                                               state.invstd,
                                               batch_statistics(norm),
                                               norm.eps,
                                               [not last, need_w, need_b])
            else:
                d_matrix = _as_matrix(d)
                grad_w = grad_b = d_v = None
                if need_w:
                    grad_w = torch.mm(d_matrix.t(), _as_matrix(state.tensor))
                    grad_w = grad_w.view_as(step.weight)
                if need_b:
                    grad_b = d_matrix.sum(0)
                if not last:
                    d_input = torch.mm(d_matrix, _as_matrix(step.weight))
                    d_v = _like(d_input, state.tensor)
            if need_w:
                grads[index] = grad_w
            if need_b:
                grads[index + has_weight] = grad_b
            if last:
                return None, grads
            d = d_v
        return d, grads


class _ThroughModules(HyperNetwork):
    """Any modules, run with autograd on a small graph of their own."""

    def forward(self, v: Tensor) -> Tuple[Tensor, tuple]:
        with torch.enable_grad():
            leaf = v.detach().requires_grad_()
            out = leaf
            if any(isinstance(stage, nn.Conv2d) for stage in self.stages):
                out = out.view(out.shape + (1, ) * (4 - out.dim()))
            for stage in self.stages:
                out = stage(out)
            out = out.view(v.shape[:1] + out.shape[1:v.dim()])
        return out.detach(), (leaf, out)

    def backward(self, saved: tuple, d_out: Tensor, need_input: bool,
                 needs: Sequence[bool]) -> Tuple[Optional[Tensor], list]:
        leaf, out = saved
        wanted = [p for p, need in zip(self.parameters, needs) if need]
        inputs = ([leaf] if need_input else []) + wanted
        grads: List[Optional[Tensor]] = [None] * len(self.parameters)
        if not inputs:
            return None, grads
        found = list(
            torch.autograd.grad(
                out, inputs, d_out, retain_graph=True, allow_unused=True))
        d_v = found.pop(0) if need_input else None
        for index, need in enumerate(needs):
            if need:
                grads[index] = found.pop(0)
        return d_v, grads
