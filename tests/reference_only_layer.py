"""A reference-only activation that exists in the tests only.

``ChannelPReLU`` is what a contributor writes for a layer without kernels:
its formula and its parameters, registered with ``ActivationSpec()``. The
``reference_only_layer`` fixture registers it for one test and removes it
after, so the layer lists of other tests do not change.
"""
import contextlib
from typing import Iterator, Optional, Type

import pytest
import torch
from torch import Tensor, nn

from mmdynact.models.activations import (ActivationSpec, ChannelActivation,
                                         register_activation,
                                         unregister_activation)

#: FLOPs per input element of its formula: two clamps, a product, a sum
FLOPS_PER_ELEMENT = 4


class ChannelPReLU(ChannelActivation):
    """``y = max(x, 0) + a_c min(x, 0)``, a learnable slope ``a_c`` per
    channel (He et al., 2015), initialised to 0.25."""

    def __init__(self,
                 channels: Optional[int] = None,
                 inplace: bool = False) -> None:
        super().__init__(channels, inplace)
        self.slope = nn.Parameter(torch.full((1, self.channels, 1, 1), 0.25))

    def formula(self, x: Tensor) -> Tensor:
        return x.clamp(min=0) + self.slope * x.clamp(max=0)


@contextlib.contextmanager
def registered() -> Iterator[Type[ChannelPReLU]]:
    """``ChannelPReLU`` registered as reference only, then unregistered."""
    register_activation(ActivationSpec())(ChannelPReLU)
    try:
        yield ChannelPReLU
    finally:
        unregister_activation(ChannelPReLU.__name__)


@pytest.fixture
def reference_only_layer() -> Iterator[Type[ChannelPReLU]]:
    with registered() as cls:
        yield cls
