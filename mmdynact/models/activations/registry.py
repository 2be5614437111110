"""The activation layers, each declared once with what the tools need.

A layer class is registered with :func:`register_activation` and an
:class:`~.spec.ActivationSpec`; that one declaration puts it in mmengine's
``MODELS`` (for ``act_cfg``) and in :data:`ACTIVATIONS`, from which the
tools take everything else: the FLOP counting (:mod:`mmdynact.analysis`),
the learned-activation probes, the benchmark and its targets, and the
tests. The layer's plain formula, the reference of every check, is its
``formula(x)`` method.

The smallest layer a contributor writes is reference only::

    @register_activation(ActivationSpec())
    class ChannelPReLU(ChannelActivation):
        def __init__(self, channels=None, inplace=False):
            super().__init__(channels, inplace)
            self.slope = nn.Parameter(torch.full((1, self.channels, 1, 1),
                                                 0.25))

        def formula(self, x):
            return x.clamp(min=0) + self.slope * x.clamp(max=0)
"""
from typing import Callable, Dict, Type

from mmengine.registry import MODELS

from .base import ChannelActivation
from .spec import PROBE_KINDS, ActivationSpec

#: layer name -> class, in registration order
ACTIVATIONS: Dict[str, Type[ChannelActivation]] = {}


def fused_activations() -> Dict[str, Type[ChannelActivation]]:
    """The registered layers that declare kernels (the kernel tests' and
    the memory target's subjects), in registration order."""
    return {
        name: cls
        for name, cls in ACTIVATIONS.items() if not cls.spec.reference_only
    }


def _check(cls: type, spec: ActivationSpec) -> None:
    """Raise an error naming the layer and the fix if ``spec`` or ``cls``
    cannot be registered."""
    name = getattr(cls, '__name__', repr(cls))
    if not (isinstance(cls, type) and issubclass(cls, ChannelActivation)):
        raise TypeError(f'{name}: register_activation takes a subclass of '
                        f'mmdynact.models.activations.ChannelActivation')
    if cls.formula is ChannelActivation.formula:
        raise TypeError(f'{name} has no formula(x): every activation layer '
                        f'defines its plain formula, the reference of every '
                        f'check')
    if spec.probe not in PROBE_KINDS:
        raise ValueError(f'{name}: ActivationSpec.probe must be one of '
                         f'{PROBE_KINDS}, got {spec.probe!r}')
    targets = dict(
        cpu_time_target=spec.cpu_time_target,
        gpu_time_target=spec.gpu_time_target)
    if spec.reference_only:
        given = [key for key, value in targets.items() if value is not None]
        if given:
            raise ValueError(
                f'{name}: ActivationSpec declares no kernels (reference '
                f'only: the forward is formula(x)), so it has no '
                f'{" or ".join(given)}; declare the kernels or drop them')
        return
    for kernel in spec.kernels:
        if not callable(getattr(kernel, 'count_flops', None)):
            raise TypeError(f'{name}: kernel {kernel.__name__} has no '
                            f'count_flops(shapes); every kernel of an '
                            f'activation counts its FLOPs')
        if not isinstance(getattr(kernel, 'custom_op', None), str):
            raise TypeError(f'{name}: kernel {kernel.__name__} declares no '
                            f'custom_op, the name of the custom op of its '
                            f'staged path (torch.compile, FLOP counting), '
                            f"e.g. 'mmdynact::acon'")
    for key, value in targets.items():
        if not _is_positive_number(value):
            raise ValueError(f'{name}: ActivationSpec declares kernels, so '
                             f'it needs {key} (a time ratio > 0), got '
                             f'{value!r}')
    if cls.forward is ChannelActivation.forward:
        raise TypeError(f'{name}: ActivationSpec declares kernels, so '
                        f'{name} defines forward(x) to run them (or declare '
                        f'no kernels to run formula(x))')


def _is_positive_number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and value > 0)


def register_activation(
    spec: ActivationSpec
) -> Callable[[Type[ChannelActivation]], Type[ChannelActivation]]:
    """Class decorator: register a layer in ``MODELS`` and
    :data:`ACTIVATIONS` with its ``spec``."""

    def register(cls: Type[ChannelActivation]) -> Type[ChannelActivation]:
        _check(cls, spec)
        MODELS.register_module(module=cls)
        cls.spec = spec
        ACTIVATIONS[cls.__name__] = cls
        return cls

    return register


def unregister_activation(name: str) -> None:
    """Undo :func:`register_activation` for the layer ``name`` (for layers
    that live only for a while, such as a test's)."""
    if name not in ACTIVATIONS:
        raise KeyError(f'{name} is not a registered activation; registered: '
                       f'{", ".join(ACTIVATIONS)}')
    # mmengine's Registry has no public way to remove an entry
    MODELS._module_dict.pop(name)
    del ACTIVATIONS[name]
