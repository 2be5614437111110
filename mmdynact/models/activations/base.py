"""The common base of activations whose parameters depend on the channels."""
from typing import ClassVar, NoReturn, Optional, Tuple

from torch import Tensor, nn

from .export import refuse_scripting
from .registry import ActivationSpec


class ChannelActivation(nn.Module):
    """An activation layer with per-channel parameters.

    Subclasses are built like any mmcv activation (``act_cfg=dict(type=...)``)
    and need the channel count of the tensor they are applied to. mmcv's
    ``ConvModule`` fills ``channels`` in (see :mod:`.channel_inference`);
    elsewhere it must be passed.

    Args:
        channels: Number of channels ``C`` of the input ``(N, C, ...)``.
        inplace: Accepted for compatibility with mmcv (``ConvModule`` passes
            it) and ignored: these layers never work in place.
    """

    #: input ranks the layer accepts, e.g. ``(4, )`` for ``(N, C, H, W)``
    input_ranks: Tuple[int, ...] = (4, )
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
        if isinstance(channels,
                      bool) or not isinstance(channels, int) or channels < 1:
            raise ValueError(f'{name}: channels must be a positive int, '
                             f'got {channels!r}')
        self.channels = channels

    def check_input(self, x: Tensor) -> None:
        """Raise a ValueError naming the layer if ``x`` does not fit it."""
        if x.dim() in self.input_ranks and x.shape[1] == self.channels:
            return
        layouts = ' or '.join(
            '(N, {}{})'.format(self.channels, ', H, W' if rank == 4 else ', L')
            for rank in self.input_ranks)
        raise ValueError(f'{type(self).__name__}(channels={self.channels}) '
                         f'expects input {layouts}, got shape '
                         f'{tuple(x.shape)}')

    def formula(self, x: Tensor) -> Tensor:
        """The layer's output by its plain formula, with the layer's own
        parameters and plain autograd ops (several full-size tensors kept
        for backward; differentiable any number of times). The reference
        of the memory-lean forward in every check and benchmark."""
        raise NotImplementedError

    def __prepare_scriptable__(self) -> NoReturn:
        """``torch.jit.script`` calls this first: refuse, naming the layer
        and what to use instead (see :mod:`.export`)."""
        refuse_scripting(self)

    def extra_repr(self) -> str:
        return f'channels={self.channels}'
