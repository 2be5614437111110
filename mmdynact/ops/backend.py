"""Which form mmdynact's activation kernels run in: fused or eager.

Every activation in mmdynact calls its arithmetic through a :class:`FusedKernel`:
a plain PyTorch function that is either run as written (``eager``) or fused
into a few passes over the tensor by ``torch.compile`` (inductor, dynamic
shapes, so new input sizes do not recompile). Both forms compute the same
formula from the same saved tensors, so they have the same memory use; the
fused one is several times faster.

The backend is chosen by

* the environment variable ``MMDYNACT_BACKEND`` (read at import),
* :func:`set_backend` or the context manager :func:`use_backend`,

with one of

* ``'auto'`` (default): fused where ``torch.compile`` works on the device;
  if compilation fails (no C++ compiler, no Triton), warn once and run eager;
* ``'compiled'``: always fused; compilation errors are raised;
* ``'eager'``: never compile.

Inside a model that is itself being compiled by ``torch.compile``, kernels
run as written so the outer compilation traces and fuses them.
"""
import contextlib
import functools
import os
import warnings
from typing import Callable, Iterator

import torch

BACKENDS = ('auto', 'compiled', 'eager')
ENV_VAR = 'MMDYNACT_BACKEND'


def _checked(name: str, source: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f'{source}={name!r} is not a mmdynact kernel backend; '
                         f'choose one of {", ".join(BACKENDS)}')
    return name


_backend = _checked(os.environ.get(ENV_VAR, 'auto'), ENV_VAR)


def get_backend() -> str:
    """The backend in force: ``'auto'``, ``'compiled'`` or ``'eager'``."""
    return _backend


def set_backend(name: str) -> None:
    """Choose the backend of all mmdynact kernels (see the module docstring)."""
    global _backend
    _backend = _checked(name, 'mmdynact backend')


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Run the enclosed code with kernel backend ``name``, then restore."""
    previous = get_backend()
    set_backend(name)
    try:
        yield
    finally:
        set_backend(previous)


class FusedKernel:
    """A pure tensor function with an eager and a ``torch.compile``-fused form.

    Args:
        fn: The function. It takes tensors (and Python constants), returns
            tensors, and has no side effects, so both forms agree.
    """

    # device types on which compilation failed under 'auto'
    _unavailable: set = set()

    def __init__(self, fn: Callable) -> None:
        self.fn = fn
        functools.update_wrapper(self, fn)

    @functools.cached_property
    def compiled(self) -> Callable:
        return torch.compile(self.fn, dynamic=True)

    def __call__(self, *args, **kwargs):
        backend = get_backend()
        if backend == 'eager' or torch.compiler.is_compiling():
            return self.fn(*args, **kwargs)
        if backend == 'compiled':
            return self.compiled(*args, **kwargs)
        device_type = args[0].device.type
        if device_type in self._unavailable:
            return self.fn(*args, **kwargs)
        try:
            return self.compiled(*args, **kwargs)
        except Exception as exc:  # compiler missing or broken: stay correct
            self._unavailable.add(device_type)
            warnings.warn(
                f'mmdynact: torch.compile failed on {device_type} '
                f'({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); '
                f'running the eager kernels instead (slower, same memory). '
                f'Set {ENV_VAR}=eager to skip compilation.')
            return self.fn(*args, **kwargs)


def fused_kernel(fn: Callable) -> FusedKernel:
    """Decorator form of :class:`FusedKernel`."""
    return FusedKernel(fn)
