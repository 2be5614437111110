"""Helpers shared by mmdynact's toolbox models."""
from .lazy_registration import register_lazy
from .pretrained import (check_pretrained_checkpoints,
                         missing_pretrained_checkpoints)

__all__ = [
    'register_lazy', 'check_pretrained_checkpoints',
    'missing_pretrained_checkpoints'
]
