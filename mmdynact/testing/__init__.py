"""Measurements for tests and benchmarks.

The reference of each activation is its own ``formula(x)`` method.
"""
from .saved_memory import saved_tensor_bytes

__all__ = ['saved_tensor_bytes']
