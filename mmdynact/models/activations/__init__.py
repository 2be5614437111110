"""Dynamic and learned activation layers, registered in mmengine's MODELS."""
from .acon import AconA, AconB, AconC, MetaAconC
from .base import ChannelActivation
from .channel_inference import (activation_channels, build_activation,
                                patch_conv_module)
from .dispatch import exporting, formulas, staged
from .dyrelu import DyReLUA, DyReLUB, DyReLUC
from .frelu import FReLU
from .registry import (ACTIVATIONS, fused_activations, register_activation,
                       unregister_activation)
from .spec import PROBE_KINDS, ActivationSpec

patch_conv_module()

__all__ = [
    'ACTIVATIONS', 'PROBE_KINDS', 'ActivationSpec', 'fused_activations',
    'register_activation', 'unregister_activation', 'ChannelActivation',
    'DyReLUA', 'DyReLUB', 'DyReLUC', 'FReLU', 'AconA', 'AconB', 'AconC',
    'MetaAconC', 'activation_channels', 'build_activation',
    'patch_conv_module', 'exporting', 'formulas', 'staged'
]
