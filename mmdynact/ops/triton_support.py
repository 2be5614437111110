"""What mmdynact's Triton kernels share: the import, layouts and tiling.

The kernels see an activation input ``(N, C, *spatial)`` as ``(N, C, S)``
with ``S`` the number of positions, stored either contiguously (``c * S +
s`` within a sample) or channels-last (``s * C + c``); other strides are
made dense first. A program works on tiles of ``BLOCK_C`` channels by
``BLOCK_S`` positions, oriented so that loads run along the contiguous
dimension:

* *row* kernels (``rows`` tiling) give a program one sample, one block of
  channels and a chunk of positions that it walks tile by tile; per-channel
  sums come out as one partial per chunk (``(N, C, splits)``, summed after);
* *column* kernels give a program one sample and one block of positions and
  walk all channels (sums over channels, e.g. DY-ReLU-C's spatial
  attention, are then complete in one program).

Triton is optional: without it (a CPU-only torch build) the kernels are
never launched and :func:`require` explains why.
"""
import functools
import math
import os
from typing import NamedTuple, Optional

import torch

try:
    import triton
    import triton.language as tl
    _IMPORT_ERROR: Optional[ImportError] = None
except ImportError as exc:  # CPU-only torch builds ship without Triton
    _IMPORT_ERROR = exc

    class _Missing:
        """Stands in for ``triton``/``triton.language`` so that the kernel
        modules import; their kernels are never launched."""

        def jit(self, fn=None, **kwargs):
            return fn if fn is not None else (lambda f: f)

        def __getattr__(self, name: str) -> '_Missing':
            return self

    triton = tl = _Missing()

#: Triton runs kernels on CPU tensors through its interpreter; it decides
#: when the kernels are defined, i.e. at import.
INTERPRETED = os.environ.get('TRITON_INTERPRET', '0') == '1'

#: elements per tile; tests lower it to walk many tiles on small tensors
TILE_ELEMENTS = 2048
#: most channels (channels-last) or positions (contiguous) along a tile
MAX_ALONG_CONTIGUOUS = {True: 128, False: 512}


def unusable_reason(device: torch.device) -> Optional[str]:
    """Why the Triton kernels cannot run on ``device``, or None if they can.

    On CUDA the first call launches a tiny kernel (compiling it), so a
    broken Triton install is found once, before any layer relies on it.
    """
    if _IMPORT_ERROR is not None:
        return f'Triton is not installed ({_IMPORT_ERROR})'
    if device.type == 'cuda':
        return _cuda_probe(device.index if device.index is not None else torch.
                           cuda.current_device())
    if device.type == 'cpu' and INTERPRETED:
        return None
    return (f'Triton kernels run on CUDA tensors, and on CPU tensors only '
            f'under its interpreter (TRITON_INTERPRET=1 before import); got '
            f'a {device.type} tensor')


def require(device: torch.device) -> None:
    """Raise a RuntimeError saying why, if Triton cannot run on ``device``."""
    reason = unusable_reason(device)
    if reason is not None:
        raise RuntimeError(
            f'mmdynact backend "triton": {reason}. Use MMDYNACT_BACKEND=auto '
            f'(Triton on CUDA, compiled PyTorch elsewhere) or "eager".')


@triton.jit
def _probe_kernel(x_ptr, BLOCK: tl.constexpr):
    offsets = tl.arange(0, BLOCK)
    tl.store(x_ptr + offsets, tl.load(x_ptr + offsets) + 1.0)


@functools.lru_cache(maxsize=None)
def _cuda_probe(index: int) -> Optional[str]:
    try:
        x = torch.zeros(16, device=torch.device('cuda', index))
        _probe_kernel[(1, )](x, BLOCK=16)
        if not bool((x == 1).all()):
            return 'a test kernel computed a wrong result'
    except Exception as exc:  # report any failure; the caller falls back
        return f'{type(exc).__name__}: {str(exc).splitlines()[0][:200]}'
    return None


@triton.jit
def tile_offsets(c, s, C, S, CHANNELS_LAST: tl.constexpr):
    """Offsets of the ``[len(c), len(s)]`` tile within one sample."""
    if CHANNELS_LAST:
        offsets = s[None, :] * C + c[:, None]
    else:
        offsets = c[:, None] * S + s[None, :]
    return offsets


@triton.jit
def row_program(C, S, BLOCK_C: tl.constexpr):
    """What a row kernel's program works on: ``(n, c, c_ok, split,
    sample)``, its sample, block of channels (and which exist), chunk of
    positions, and the sample's offset (int64)."""
    pid = tl.program_id(0)
    c_blocks = tl.cdiv(C, BLOCK_C)
    n = pid // c_blocks
    c = (pid % c_blocks) * BLOCK_C + tl.arange(0, BLOCK_C)
    return n, c, c < C, tl.program_id(1), n.to(tl.int64) * C * S


@triton.jit
def row_tile(start, c, c_ok, C, S, sample, BLOCK_S: tl.constexpr,
             CHANNELS_LAST: tl.constexpr):
    """The tile of a row program's chunk that starts at position ``start``:
    ``(s, s_ok, mask, offsets)``."""
    s = start + tl.arange(0, BLOCK_S)
    s_ok = s < S
    return (s, s_ok, c_ok[:, None] & s_ok[None, :],
            sample + tile_offsets(c, s, C, S, CHANNELS_LAST))


@triton.jit
def chunk_index(n, c, C, split):
    """Index of the partial sums of channels ``c`` of sample ``n`` over
    chunk ``split``, in ``(N, C, splits)`` order."""
    return (n * C + c) * tl.num_programs(1) + split


def spatial_size(x: torch.Tensor) -> int:
    """``S``, the number of positions of ``x`` ``(N, C, *)``."""
    return math.prod(x.shape[2:])


def is_channels_last(x: torch.Tensor) -> bool:
    """Whether the kernels should read ``x`` as channels-last."""
    return (x.dim() == 4 and not x.is_contiguous()
            and x.is_contiguous(memory_format=torch.channels_last))


def kernel_input(x: torch.Tensor):
    """``(x, N, C, S, channels_last)``: ``x`` laid out as the kernels read it
    (:func:`dense`), its sizes and its layout."""
    channels_last = is_channels_last(x)
    n, c = x.shape[:2]
    return dense(x, channels_last), n, c, spatial_size(x), channels_last


def match_layout(grad: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``grad`` in ``x``'s layout (autograd may hand over another one)."""
    return dense(grad, is_channels_last(x))


def dense(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """``x`` laid out as the kernels read it (a copy only if it is not)."""
    if channels_last:
        return x.contiguous(memory_format=torch.channels_last)
    return x.contiguous()


def acc_type(dtype: torch.dtype):
    """The Triton type to compute in: float64 for float64, else float32."""
    return tl.float64 if dtype == torch.float64 else tl.float32


def next_power_of_2(n: int) -> int:
    return 1 << max(n - 1, 0).bit_length()


class Tiling(NamedTuple):
    """How a kernel of one call splits ``(N, C, S)`` into programs."""
    block_c: int
    block_s: int
    c_blocks: int
    #: chunks of positions per (sample, channel block), for row kernels
    splits: int
    #: positions per chunk (a multiple of ``block_s``)
    s_chunk: int

    def rows(self, n: int) -> tuple:
        """Grid of a row kernel."""
        return (n * self.c_blocks, self.splits)

    def columns(self, n: int) -> tuple:
        """Grid of a column kernel: one program per sample and tile of
        positions."""
        return (n, self.splits)


@functools.lru_cache(maxsize=4096)
def tiling(c: int, s: int, channels_last: bool,
           parallel: Optional[int]) -> Tiling:
    """Tiles for ``(N, C, S)`` in the given layout (``TILE_ELEMENTS`` per
    tile, at most ``MAX_ALONG_CONTIGUOUS`` along the contiguous dimension;
    call ``tiling.cache_clear()`` after changing them).

    Args:
        c, s: Channels and positions.
        channels_last: The layout.
        parallel: For reductions, about how many programs to give each
            sample (chunks of positions shrink until there are that many);
            None: one tile per program (element-wise passes, column
            kernels).
    """
    tile = TILE_ELEMENTS
    along = MAX_ALONG_CONTIGUOUS[channels_last]
    if channels_last:
        block_c = min(next_power_of_2(c), along, tile)
        block_s = min(next_power_of_2(s), max(tile // block_c, 1))
    else:
        block_s = min(next_power_of_2(s), along, tile)
        block_c = min(next_power_of_2(c), max(tile // block_s, 1))
    c_blocks = -(-c // block_c)
    s_blocks = -(-s // block_s)
    if parallel is None:
        per_chunk = 1
    else:
        wanted = max(-(-parallel // c_blocks), 1)
        per_chunk = -(-s_blocks // min(wanted, s_blocks))
    s_chunk = per_chunk * block_s
    return Tiling(block_c, block_s, c_blocks, -(-s // s_chunk), s_chunk)


def programs_per_sample(device: torch.device, n: int) -> int:
    """Programs per sample that keep every multiprocessor busy."""
    if device.type != 'cuda':
        return 4
    return max(4 * _multiprocessors(device.index) // max(n, 1), 1)


@functools.lru_cache(maxsize=None)
def _multiprocessors(index: Optional[int]) -> int:
    return torch.cuda.get_device_properties(
        index if index is not None else torch.cuda.current_device(
        )).multi_processor_count
