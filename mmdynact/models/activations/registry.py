"""The activation layers, each declared once with what the tools need.

A layer class is registered with :func:`register_activation` and an
:class:`ActivationSpec`; that one declaration puts it in mmengine's
``MODELS`` (for ``act_cfg``) and in :data:`ACTIVATIONS`, from which the
tools take everything else: the FLOP counting (:mod:`mmdynact.analysis`),
the learned-activation probes, the benchmark and its targets, and the
tests. The layer's plain formula, the reference of every check, is its
``formula(x)`` method.
"""
from typing import TYPE_CHECKING, Callable, Dict, NamedTuple, Tuple, Type

from mmengine.registry import MODELS

if TYPE_CHECKING:
    from .base import ChannelActivation

#: the probe kinds of :mod:`mmdynact.analysis.learned_activations`
PROBE_KINDS = ('dyrelu', 'acon', 'frelu')


class ActivationSpec(NamedTuple):
    """What the tools need to know about an activation layer.

    Attributes:
        kernels: The memory-lean autograd functions its forward runs
            (:mod:`mmdynact.ops`); each counts its own FLOPs
            (``count_flops``).
        probe: Which learned-activation probe looks inside it, one of
            :data:`PROBE_KINDS`.
        cpu_time_target: Benchmark target on CPU: forward + backward time
            of the layer over that of its plain formula.
        gpu_time_target: Benchmark target on a GPU: forward + backward time
            over that of ``nn.ReLU`` (bf16).
    """
    kernels: Tuple[type, ...]
    probe: str
    cpu_time_target: float
    gpu_time_target: float


#: layer name -> class, in registration order
ACTIVATIONS: Dict[str, Type['ChannelActivation']] = {}


def register_activation(
    spec: ActivationSpec
) -> Callable[[Type['ChannelActivation']], Type['ChannelActivation']]:
    """Class decorator: register a layer in ``MODELS`` and
    :data:`ACTIVATIONS` with its ``spec``."""
    if spec.probe not in PROBE_KINDS:
        raise ValueError(f'ActivationSpec.probe must be one of '
                         f'{PROBE_KINDS}, got {spec.probe!r}')
    for kernel in spec.kernels:
        if not callable(getattr(kernel, 'count_flops', None)):
            raise TypeError(f'{kernel.__name__} has no count_flops(shapes); '
                            f'every kernel of an activation counts its FLOPs')

    def register(cls: Type['ChannelActivation']) -> Type['ChannelActivation']:
        cls.spec = spec
        MODELS.register_module(module=cls)
        ACTIVATIONS[cls.__name__] = cls
        return cls

    return register
