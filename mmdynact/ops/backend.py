"""Which form mmdynact's activation kernels run in: Triton, fused or eager.

Every activation computes its arithmetic in a few *passes* over the tensor
(see the kernel families of this package). Each pass exists in two forms:

* a hand-written **Triton** kernel (one launch per pass, fp32 accumulation,
  fp16/bf16/fp32/fp64 input, contiguous or channels-last), the form for GPUs;
* a **torch** form: plain PyTorch code that is either run as written
  (``eager``) or fused by ``torch.compile`` (``compiled``: inductor, dynamic
  shapes). Each variant of a torch kernel (dtypes, memory layout, flags) is
  compiled in a cache of its own (:mod:`.torch_internals`), so a process that
  mixes float64, fp32, bf16 autocast, channels-last and many shapes never
  reaches dynamo's recompile limit and never drops silently to the slow
  path.

The backend is chosen by the environment variable ``MMDYNACT_BACKEND`` (read
at import), :func:`set_backend` or the context manager :func:`use_backend`:

* ``'auto'`` (default): Triton on CUDA, the compiled torch form elsewhere;
  if Triton or the compiler does not work on the device (import, compile,
  probe), warn once and use the next form (compiled, then eager). An error
  that the same input also raises in eager is the caller's error and is
  raised as such;
* ``'triton'``: always Triton; on a CPU tensor this needs Triton's
  interpreter (``TRITON_INTERPRET=1`` set before Triton is imported), which
  the tests use;
* ``'compiled'``: always the compiled torch form; errors are raised;
* ``'eager'``: the torch form as written (no compilation, slower).

The form is decided once per backend and device (:func:`kernel_form`).
Inside a model compiled by ``torch.compile`` the layers call their
``torch.library`` custom ops instead (each family registers one, beside its
``autograd.Function``), whatever the backend: the whole model compiles
without graph breaks.
"""
import contextlib
import functools
import math
import os
import warnings
from typing import Callable, Dict, Iterator, Optional, Tuple

import torch

from . import triton_support
from .torch_internals import compiled_copy, standalone_compiled

BACKENDS = ('auto', 'triton', 'compiled', 'eager')
ENV_VAR = 'MMDYNACT_BACKEND'


def _checked(name: str, source: str) -> str:
    if name not in BACKENDS:
        raise ValueError(
            f'{source}={name!r} is not a mmdynact kernel backend; '
            f'choose one of {", ".join(BACKENDS)}')
    return name


_backend = _checked(os.environ.get(ENV_VAR, 'auto'), ENV_VAR)
# forms found not to work under 'auto': (form, device type) -> reason
_broken: Dict[Tuple[str, str], str] = {}
# (backend, device) -> form, decided once
_forms: Dict[Tuple[str, torch.device], str] = {}


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


def forget_forms() -> None:
    """Decide the form of every device anew (after a fallback, or when a
    test changes what Triton can do)."""
    _forms.clear()


def _fall_back(form: str, device_type: str, reason: str) -> None:
    if (form, device_type) not in _broken:
        _broken[form, device_type] = reason
        forget_forms()
        name = 'Triton' if form == 'triton' else form
        warnings.warn(
            f'mmdynact: the {name} kernels do not work on {device_type} '
            f'({reason}); running a slower form instead (same results and '
            f'memory). Set {ENV_VAR}=eager to skip this check.')


def kernel_form(device: torch.device, layer: Optional[str] = None) -> str:
    """The form the kernels run in on ``device``: ``'triton'``,
    ``'compiled'`` or ``'eager'``, from the backend in force (decided once
    per backend and device). An error names ``layer``, if given."""
    form = _forms.get((_backend, device))
    if form is None:
        try:
            form = _forms[_backend, device] = _decide(_backend, device)
        except RuntimeError as exc:
            if layer is None:
                raise
            raise RuntimeError(f'{layer}: {exc}') from exc
    return form


def _decide(backend: str, device: torch.device) -> str:
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


#: the fewest elements for which a call of the compiled torch form without
#: autograd pays off off the CPU (on a CPU an :class:`InferenceKernel` fuses
#: without dynamo): below, dynamo's cache lookup and guards (about 25 us
#: per call on a CPU) outweigh what fusing saves
COMPILED_FROM_ELEMENTS = 1 << 20


class FormPasses:
    """A kernel family's passes in every form: ``passes(x, layer)`` gives
    those of the form ``x``'s device runs (:func:`kernel_form`).

    Args:
        triton: The passes as Triton kernels.
        torch_form: Makes the passes in plain PyTorch for ``'compiled'`` or
            ``'eager'``.
    """

    def __init__(self, triton, torch_form: Callable[[str], object]) -> None:
        self._forms = dict(
            triton=triton,
            compiled=torch_form('compiled'),
            eager=torch_form('eager'))

    def __call__(self, x: torch.Tensor, layer: Optional[str] = None):
        return self._forms[kernel_form(x.device, layer)]

    def inference_form(self,
                       x: torch.Tensor,
                       layer: Optional[str] = None) -> Optional[str]:
        """The form of an :class:`InferenceKernel` for a call without
        autograd on ``x``: ``'compiled'`` on a CPU in the compiled form,
        ``'eager'`` in the eager form, or on an input below
        :data:`COMPILED_FROM_ELEMENTS` elsewhere in the compiled form; None
        where the form's passes are faster (Triton, larger inputs)."""
        device = x.device
        form = kernel_form(device, layer)
        if form == 'compiled' and device.type != 'cpu':
            return 'eager' if x.numel() < COMPILED_FROM_ELEMENTS else None
        return None if form == 'triton' else form


@functools.lru_cache(maxsize=4096)
def _size_ones(shape: torch.Size) -> Tuple[bool, ...]:
    """Which dimensions of ``shape`` have size 1 (memoised: every kernel
    call reads it of each tensor argument)."""
    return tuple(size == 1 for size in shape)


def _variant_key(args: tuple) -> tuple:
    """What dynamo would guard on in ``args``, beside sizes > 1."""
    key = [torch.is_grad_enabled()]
    for arg in args:
        if isinstance(arg, torch.Tensor):
            key.append(
                (arg.dtype, arg.device.type, arg.dim(), _size_ones(arg.shape),
                 arg.is_contiguous(), arg.dim() == 4
                 and arg.is_contiguous(memory_format=torch.channels_last)))
        else:
            key.append(arg)
    for device_type in ('cpu', 'cuda'):
        key.append(torch.is_autocast_enabled(device_type))
    return tuple(key)


class TorchKernel:
    """A pure tensor function, run as written or fused by ``torch.compile``.

    ``kernel(form, *args)`` runs it eagerly (``form='eager'``) or compiled
    (``'compiled'``, on detached tensors: kernels run inside autograd
    functions). Each variant of the arguments (dtypes, layouts, size-1
    dimensions, flags, grad and autocast state) gets its own compiled copy
    with its own dynamo cache, so variants never evict one another and sizes
    never recompile.

    Under ``'auto'``, a compiled run that fails is run again as written: if
    that fails too, the error is the input's and is raised; otherwise the
    compiler is broken on this device, which is recorded (with one warning)
    and the eager form used from then on.

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
        if compiled is None:
            compiled = compiled_copy(
                self.fn, f'{self.fn.__name__}_variant{len(self.variants)}')
            result = compiled(*args)
            self.variants[key] = compiled
            return result
        return compiled(*args)

    def __call__(self, form: str, *args):
        if form == 'eager' or torch.compiler.is_compiling():
            return self.fn(*args)
        device_type = next(
            arg.device.type for arg in args if isinstance(arg, torch.Tensor))
        if _backend == 'auto' and ('compiled', device_type) in _broken:
            return self.fn(*args)
        detached = tuple(arg.detach() if isinstance(arg, torch.Tensor) else arg
                         for arg in args)
        return _compiled_or_fall_back('compiled', device_type,
                                      lambda: self._run_compiled(detached),
                                      self.fn, args)


def _compiled_or_fall_back(form: str, device_type: str, run: Callable,
                           fn: Callable, args: tuple):
    """``run()``, a compiled ``fn(*args)``. Under ``'auto'``, if it fails
    where ``fn(*args)`` does not (which raises the input's own errors),
    ``form`` is recorded as broken on ``device_type`` (one warning) and
    ``fn``'s result returned."""
    if _backend != 'auto':
        return run()
    try:
        return run()
    except Exception as exc:
        result = fn(*args)  # raises if the input is at fault
        _fall_back(
            form, device_type, f'{type(exc).__name__}: '
            f'{str(exc).splitlines()[0][:200]}')
        return result


def torch_kernel(fn: Callable) -> TorchKernel:
    """Decorator form of :class:`TorchKernel`."""
    return TorchKernel(fn)


#: the fewest elements for which an :class:`InferenceKernel` runs inductor's
#: fused kernel on a CPU: below, its few aten ops as written are as fast
FUSED_INFERENCE_FROM_ELEMENTS = 1 << 15
#: the name of an :class:`InferenceKernel`'s fused form in :data:`_broken`
FUSED_INFERENCE = 'fused inference'


def sigmoid_by_exp2(z: torch.Tensor) -> torch.Tensor:
    """``sigmoid(z) = 1 / (1 + 2^(-z log2 e))``. In inductor's CPU kernels
    ``exp`` is Sleef's ``expf8_u10`` and ``exp2`` its ``exp2f8_u10``, which
    is cheaper: with it ACON-A's fused kernel takes 0.14 ms against 0.16 to
    0.17 with inductor's own sigmoid and 0.21 to 0.23 for aten's three ops
    of the formula (8x32x28x28, fp32, 2 AVX2 cores). The product ``z log2
    e`` adds a relative error of about ``|z| 6e-8`` where ``sigmoid(z)`` is
    below 1/2."""
    return 1 / (torch.exp2(z * -math.log2(math.e)) + 1)


#: the decompositions an :class:`InferenceKernel` is traced with: ops that
#: inductor compiles to slower code on a CPU, written in faster ones
FUSED_DECOMPOSITIONS = {
    torch.ops.aten.sigmoid.default: sigmoid_by_exp2,
    torch.ops.aten.sigmoid_.default: lambda z: z.copy_(sigmoid_by_exp2(z)),
}


class InferenceKernel:
    """A pure tensor function for calls without autograd on a CPU:
    ``kernel(form, x, *args)`` runs it as written (``form='eager'``, or an
    input ``x`` below :data:`FUSED_INFERENCE_FROM_ELEMENTS`) or as one fused
    inductor kernel called without dynamo (``'compiled'``,
    :func:`~.torch_internals.standalone_compiled`): a few microseconds of
    fixed cost against dynamo's 25 or so, so that fusing pays off from
    inputs of tens of thousands of elements.

    Each variant of the arguments (as :class:`TorchKernel`'s) is compiled
    once, for all sizes, traced with :data:`FUSED_DECOMPOSITIONS`. ``x``
    neither contiguous nor channels-last, and calls under autocast, run as
    written. Under ``'auto'`` a compile that fails is reported once and the
    function run as written from then on.

    Args:
        fn: The function. It takes tensors (``x`` first, on the CPU), None
            or Python constants, returns a tensor, and changes none of its
            inputs (its in-place ops act on its own temporaries).
    """

    def __init__(self, fn: Callable) -> None:
        self.fn = fn
        self.variants: Dict[tuple, Callable] = {}
        functools.update_wrapper(self, fn)

    def _fused_key(self, x: torch.Tensor, args: tuple) -> Optional[tuple]:
        """The variant of ``(x, *args)`` (as :func:`_variant_key`, but for
        calls without autograd nor autocast on a CPU), or None where the
        call runs as written."""
        if torch.is_autocast_enabled('cpu'):
            return None
        contiguous = x.is_contiguous()
        if not (contiguous
                or x.is_contiguous(memory_format=torch.channels_last)):
            return None
        if _backend == 'auto' and (FUSED_INFERENCE, 'cpu') in _broken:
            return None
        key = [x.dtype, contiguous, _size_ones(x.shape)]
        for arg in args:
            key.append((
                arg.dtype, _size_ones(arg.shape),
                arg.is_contiguous()) if isinstance(arg, torch.Tensor) else arg)
        return tuple(key)

    def _compiled(self, key: tuple, args: tuple) -> torch.Tensor:
        """Compile the variant ``key`` and run it on ``args``; kept once it
        has run."""
        fused = standalone_compiled(
            self.fn, *args, decompositions=FUSED_DECOMPOSITIONS)
        y = fused(*args)
        self.variants[key] = fused
        return y

    def __call__(self, form: str, x: torch.Tensor, *args) -> torch.Tensor:
        """``fn(x, *args)`` in ``form``, ``'compiled'`` only for an ``x``
        on the CPU."""
        if form != 'compiled' or x.numel() < FUSED_INFERENCE_FROM_ELEMENTS:
            return self.fn(x, *args)
        key = self._fused_key(x, args)
        if key is None:
            return self.fn(x, *args)
        fused = self.variants.get(key)
        if fused is not None:
            return fused(x, *args)
        args = (x, ) + args
        return _compiled_or_fall_back(FUSED_INFERENCE, 'cpu',
                                      lambda: self._compiled(key, args),
                                      self.fn, args)


def inference_kernel(fn: Callable) -> InferenceKernel:
    """Decorator form of :class:`InferenceKernel`."""
    return InferenceKernel(fn)
