"""Dynamic and learned activation layers, registered in mmengine's MODELS."""
from .acon import AconA, AconB, AconC, MetaAconC
from .base import ChannelActivation
from .channel_inference import (activation_channels, build_activation,
                                patch_conv_module)
from .dyrelu import DyReLUA, DyReLUB, DyReLUC
from .export import exporting, kernels_in_traces
from .frelu import FReLU
from .registry import (ACTIVATIONS, PROBE_KINDS, ActivationSpec,
                       register_activation)

patch_conv_module()

__all__ = [
    'ACTIVATIONS', 'PROBE_KINDS', 'ActivationSpec', 'register_activation',
    'ChannelActivation', 'DyReLUA', 'DyReLUB', 'DyReLUC', 'FReLU', 'AconA',
    'AconB', 'AconC', 'MetaAconC', 'activation_channels', 'build_activation',
    'patch_conv_module', 'exporting', 'kernels_in_traces'
]
