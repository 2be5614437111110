"""Which form mmdynact's activation kernels run in: Triton, fused or eager.

Every activation computes its arithmetic in a few *passes* over the tensor
(see the kernel families in this package). Each pass exists in two forms:

* a hand-written **Triton** kernel (one launch per pass, fp32 accumulation,
  fp16/bf16/fp32/fp64 input, contiguous or channels-last), the form for GPUs;
* a **torch** form: plain PyTorch code that is either run as written
  (``eager``) or fused by ``torch.compile`` (``compiled``: inductor, dynamic
  shapes). Each variant of a torch kernel (dtypes, memory layout, flags) is
  compiled in a cache of its own, so a process that mixes float64, fp32,
  bf16 autocast, channels-last and many shapes never reaches dynamo's
  recompile limit and never drops silently to the slow path.

The backend is chosen by the environment variable ``MMDYNACT_BACKEND`` (read
at import), :func:`set_backend` or the context manager :func:`use_backend`:

* ``'auto'`` (default): Triton on CUDA, the compiled torch form elsewhere;
  if Triton or the compiler does not work on the device, warn once and use
  the next form (compiled, then eager);
* ``'triton'``: always Triton; on a CPU tensor this needs Triton's
  interpreter (``TRITON_INTERPRET=1`` set before Triton is imported), which
  the tests use;
* ``'compiled'``: always the compiled torch form; errors are raised;
* ``'eager'``: the torch form as written (no compilation, slower).

Inside a model compiled by ``torch.compile`` the layers call
``torch.library`` custom ops instead (see :mod:`.custom_ops`), whatever the
backend: the whole model compiles without graph breaks.
"""
import contextlib
import functools
import os
import types
import warnings
from typing import Callable, Dict, Iterator, Tuple

import torch
import torch.fx.experimental._config  # noqa: F401 (duck shaping)

from . import triton_support

BACKENDS = ('auto', 'triton', 'compiled', 'eager')
ENV_VAR = 'MMDYNACT_BACKEND'


def _checked(name: str, source: str) -> str:
    if name not in BACKENDS:
        raise ValueError(
            f'{source}={name!r} is not a mmdynact kernel backend; '
            f'choose one of {", ".join(BACKENDS)}')
    return name


_backend = _checked(os.environ.get(ENV_VAR, 'auto'), ENV_VAR)


def get_backend() -> str:
    """The backend in force: ``'auto'``, ``'triton'``, ``'compiled'`` or
    ``'eager'``."""
    return _backend


def set_backend(name: str) -> None:
    """Choose the backend of all mmdynact kernels (see the module doc)."""
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


# forms found not to work under 'auto': (form, device type) -> reason
_broken: Dict[Tuple[str, str], str] = {}


def _fall_back(form: str, device_type: str, reason: str) -> None:
    if (form, device_type) not in _broken:
        _broken[form, device_type] = reason
        name = 'Triton' if form == 'triton' else form
        warnings.warn(
            f'mmdynact: the {name} kernels do not work on {device_type} '
            f'({reason}); running a slower form instead (same results and '
            f'memory). Set {ENV_VAR}=eager to skip this check.')


def kernel_form(device: torch.device) -> str:
    """The form the kernels run in on ``device``: ``'triton'``,
    ``'compiled'`` or ``'eager'``, from the backend in force."""
    backend = _backend
    if backend == 'triton':
        triton_support.require(device)
        return 'triton'
    if backend != 'auto':
        return backend
    device_type = device.type
    if device_type == 'cuda' and ('triton', 'cuda') not in _broken:
        reason = triton_support.unusable_reason(device)
        if reason is None:
            return 'triton'
        _fall_back('triton', device_type, reason)
    if ('compiled', device_type) not in _broken:
        return 'compiled'
    return 'eager'


def _variant_key(args: tuple) -> tuple:
    """What dynamo would guard on in ``args``, beside sizes > 1."""
    key = [torch.is_grad_enabled()]
    for arg in args:
        if isinstance(arg, torch.Tensor):
            key.append(
                (arg.dtype, arg.device.type, arg.dim(),
                 tuple(size == 1 for size in arg.shape), arg.is_contiguous(),
                 arg.dim() == 4
                 and arg.is_contiguous(memory_format=torch.channels_last)))
        else:
            key.append(arg)
    for device_type in ('cpu', 'cuda'):
        key.append(torch.is_autocast_enabled(device_type))
    return tuple(key)


def _fresh_code(fn: Callable, index: int) -> Callable:
    """A copy of ``fn`` with its own code object (dynamo caches per code)."""
    code = fn.__code__.replace(co_name=f'{fn.__name__}_variant{index}')
    return types.FunctionType(code, fn.__globals__, code.co_name,
                              fn.__defaults__, fn.__closure__)


class TorchKernel:
    """A pure tensor function, run as written or fused by ``torch.compile``.

    ``kernel(form, *args)`` runs it eagerly (``form='eager'``) or compiled
    (``'compiled'``, on detached tensors: kernels run inside autograd
    functions). Each variant of the arguments (dtypes, layouts, size-1
    dimensions, flags, grad and autocast state) gets its own compiled copy
    with its own dynamo cache, so variants never evict one another and sizes
    never recompile (``dynamic=True``, no duck shaping).

    Args:
        fn: The function. It takes tensors and Python constants, returns
            tensors, and has no side effects, so both forms agree.
    """

    def __init__(self, fn: Callable) -> None:
        self.fn = fn
        self.variants: Dict[tuple, Callable] = {}
        functools.update_wrapper(self, fn)

    def _run_compiled(self, args: tuple):
        key = _variant_key(args)
        compiled = self.variants.get(key)
        if compiled is not None:
            return compiled(*args)
        compiled = torch.compile(
            _fresh_code(self.fn, len(self.variants)), dynamic=True)
        # Without duck shaping, sizes that happen to be equal in the first
        # call (batch and K, height and width) stay independent symbols,
        # so other sizes later need no recompilation.
        with torch.fx.experimental._config.patch(use_duck_shape=False):
            result = compiled(*args)
        self.variants[key] = compiled
        return result

    def __call__(self, form: str, *args):
        if form == 'eager' or torch.compiler.is_compiling():
            return self.fn(*args)
        device_type = next(
            arg.device.type for arg in args if isinstance(arg, torch.Tensor))
        if _backend == 'auto' and ('compiled', device_type) in _broken:
            return self.fn(*args)
        try:  # (kernels are called inside autograd functions: no graph)
            return self._run_compiled(
                tuple(arg.detach() if isinstance(arg, torch.Tensor) else arg
                      for arg in args))
        except Exception as exc:  # compiler missing or broken
            if _backend != 'auto':
                raise
            _fall_back(
                'compiled', device_type, f'{type(exc).__name__}: '
                f'{str(exc).splitlines()[0][:200]}')
            return self.fn(*args)


def torch_kernel(fn: Callable) -> TorchKernel:
    """Decorator form of :class:`TorchKernel`."""
    return TorchKernel(fn)
