"""The common base of activations whose parameters depend on the channels."""
import math
import numbers
from typing import ClassVar, NoReturn, Optional, Tuple

from torch import Tensor, nn

from .spec import ActivationSpec


class ChannelActivation(nn.Module):
    """An activation layer with per-channel parameters.

    Subclasses are built like any mmcv activation (``act_cfg=dict(type=...)``)
    and need the channel count of the tensor they are applied to. mmcv's
    ``ConvModule`` fills ``channels`` in (see :mod:`.channel_inference`);
    elsewhere it must be passed.

    A subclass defines :meth:`formula`. One registered as reference only
    (``ActivationSpec()``, no kernels; see :mod:`.registry`) needs nothing
    else: this class's :meth:`forward` runs the formula. One that declares
    kernels defines its own ``forward`` that runs them.

    Args:
        channels: Number of channels ``C`` of the input ``(N, C, ...)``.
        inplace: Accepted for compatibility with mmcv (``ConvModule`` passes
            it) and ignored: these layers never work in place.
    """

    #: input ranks the layer accepts, e.g. ``(4, )`` for ``(N, C, H, W)``
    input_ranks: Tuple[int, ...] = (4, )
    #: whether the layer has norms of its own, built from a ``norm_cfg``
    #: argument that the builder's ``norm_cfg`` fills in (ActResNet,
    #: ConvModule) unless ``act_cfg`` names one
    follows_norm_cfg: ClassVar[bool] = False
    #: set by :func:`~.registry.register_activation`
    spec: ClassVar[ActivationSpec]

    def __init__(self,
                 channels: Optional[int] = None,
                 inplace: bool = False) -> None:
        super().__init__()
        name = type(self).__name__
        if channels is None:
            raise TypeError(
                f'{name} needs the number of channels of its input. '
                f"mmcv's ConvModule passes it by itself; elsewhere write "
                f"act_cfg=dict(type='{name}', channels=<channels>).")
        self.channels = positive_int(name, 'channels', channels)

    def check_input(self, x: Tensor) -> None:
        """Raise naming the layer if ``x`` does not fit it: a ValueError for
        its shape, a TypeError for a dtype that is not floating point."""
        if not x.is_floating_point():
            raise TypeError(
                f'{type(self).__name__} expects a floating-point input '
                f'(float16, bfloat16, float32 or float64), got {x.dtype}; '
                f'convert it first, e.g. x.float()')
        if x.dim() in self.input_ranks and x.shape[1] == self.channels:
            return
        layouts = ' or '.join(
            '(N, {}{})'.format(self.channels, ', H, W' if rank == 4 else ', L')
            for rank in self.input_ranks)
        raise ValueError(f'{type(self).__name__}(channels={self.channels}) '
                         f'expects input {layouts}, got shape '
                         f'{tuple(x.shape)}')

    def forward(self, x: Tensor) -> Tensor:
        """The reference-only forward: :meth:`formula` of a checked input."""
        self.check_input(x)
        return self.formula(x)

    def formula(self, x: Tensor) -> Tensor:
        """The layer's output by its plain formula, with the layer's own
        parameters and plain autograd ops (several full-size tensors kept
        for backward; differentiable any number of times). The reference
        of the memory-lean forward in every check and benchmark."""
        raise NotImplementedError

    def __prepare_scriptable__(self) -> NoReturn:
        """``torch.jit.script`` calls this first: refuse, naming the layer
        and what to use instead."""
        raise RuntimeError(
            f'{type(self).__name__} cannot be compiled by torch.jit.script: '
            f'its forward runs custom autograd kernels (mmdynact.ops), which '
            f'TorchScript cannot hold. Use torch.jit.trace(model.eval(), '
            f'example_inputs) (the layers trace as their plain formula, and '
            f'the trace can be saved), torch.onnx.export, or '
            f'tools/deployment/pytorch2onnx.py')

    def extra_repr(self) -> str:
        return f'channels={self.channels}'


def positive_int(layer: str, name: str, value) -> int:
    """``value`` if it is an int >= 1, else a ValueError naming the layer's
    argument."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f'{layer}: {name} must be a positive int, got '
                         f'{value!r}')
    return value


def finite_float(layer: str, name: str, value) -> float:
    """``value`` as a float if it is a finite real number, else a
    ValueError naming the layer's argument."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not math.isfinite(value)):
        raise ValueError(f'{layer}: {name} must be a finite number, got '
                         f'{value!r}')
    return float(value)
