"""Reference implementations and measurements for tests and benchmarks."""
from .reference import reference_forward
from .saved_memory import saved_tensor_bytes

__all__ = ['reference_forward', 'saved_tensor_bytes']
