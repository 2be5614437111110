"""Helpers shared by mmdynact's toolbox models."""
from .activation import build_activation
from .lazy_registration import register_lazy
from .pretrained import check_pretrained

__all__ = ['build_activation', 'register_lazy', 'check_pretrained']
