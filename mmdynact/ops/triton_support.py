"""What mmdynact's Triton kernels share: the import, layouts, tiles and the
``@triton.jit`` helpers every family uses.

The kernels see an activation input ``(N, C, *spatial)`` as ``(N, C, S)``
with ``S`` the number of positions, stored either contiguously (``c * S +
s`` within a sample) or channels-last (``s * C + c``); other strides are
made dense first. A program works on tiles of ``BLOCK_C`` channels by
``BLOCK_S`` positions, oriented so that loads run along the contiguous
dimension. Two kinds of kernels:

* *row* kernels (:func:`row_tiling`) give a program one sample, one block
  of channels and a *chunk* of positions that it walks tile by tile;
  per-channel sums come out as one partial per chunk, added up after;
* *column* kernels (:func:`column_tiling`) give a program one sample and
  one *block* of positions and walk all channels, so sums over channels
  (DY-ReLU-C's spatial attention) are complete in one program.

Offsets within a sample are 32-bit (a sample may hold up to 2**31
elements), the sample's own offset 64-bit: any batch size works and index
arithmetic stays cheap in registers.

Triton is optional: without it (a CPU-only torch build) the kernels are
never launched and :func:`require` explains why.
"""
import functools
import math
import os
from typing import NamedTuple, Optional

import torch
from torch import Tensor

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

#: the most elements one sample may hold (offsets within it are 32-bit)
MAX_SAMPLE_ELEMENTS = 2**31 - 1


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
        _probe_kernel[(1, )](x_ptr=x, BLOCK=16)
        if not bool((x == 1).all()):
            return 'a test kernel computed a wrong result'
    except Exception as exc:  # report any failure; the caller falls back
        return f'{type(exc).__name__}: {str(exc).splitlines()[0][:200]}'
    return None


# ------------------------------------------------------ @triton.jit helpers


@triton.jit
def tile_offsets(c, s, C, S, CHANNELS_LAST: tl.constexpr):
    """Offsets (32-bit) of the ``[len(c), len(s)]`` tile within a sample."""
    if CHANNELS_LAST:
        offsets = s[None, :] * C + c[:, None]
    else:
        offsets = c[:, None] * S + s[None, :]
    return offsets


@triton.jit
def sample_start(n, C, S):
    """Offset (64-bit) of sample ``n`` of an ``(N, C, S)`` tensor."""
    return n.to(tl.int64) * C * S


@triton.jit
def row_sample(C, BLOCK_C: tl.constexpr):
    """The sample a row program works on."""
    return tl.program_id(0) // tl.cdiv(C, BLOCK_C)


@triton.jit
def row_channels(C, BLOCK_C: tl.constexpr):
    """The block of channels a row program works on (some may be ``>= C``)."""
    block = tl.program_id(0) % tl.cdiv(C, BLOCK_C)
    return block * BLOCK_C + tl.arange(0, BLOCK_C)


@triton.jit
def row_tile(start, c, c_ok, C, S, BLOCK_S: tl.constexpr,
             CHANNELS_LAST: tl.constexpr):
    """The tile of a row program that starts at position ``start``: its
    positions ``s``, which of them exist, the tile's mask and its offsets
    within the sample."""
    s = start + tl.arange(0, BLOCK_S)
    s_ok = s < S
    return (s, s_ok, c_ok[:, None] & s_ok[None, :],
            tile_offsets(c, s, C, S, CHANNELS_LAST))


@triton.jit
def partial_index(n, c, C):
    """Where a row program stores the partial sums of channels ``c`` of
    sample ``n`` over its chunk: ``(N, C, chunks)`` order."""
    return (n * C + c) * tl.num_programs(1) + tl.program_id(1)


@triton.jit
def column_positions(BLOCK_S: tl.constexpr):
    """The block of positions a column program works on."""
    return tl.program_id(1) * BLOCK_S + tl.arange(0, BLOCK_S)


# ------------------------------------------------------------------ inputs


class KernelInput(NamedTuple):
    """An activation input as the kernels read it."""
    #: dense in its layout (a copy only if it was not)
    x: Tensor
    n: int
    c: int
    #: positions per sample
    s: int
    channels_last: bool


def spatial_size(x: Tensor) -> int:
    """``S``, the number of positions of ``x`` ``(N, C, *)``."""
    return math.prod(x.shape[2:])


def is_channels_last(x: Tensor) -> bool:
    """Whether the kernels should read ``x`` as channels-last."""
    return (x.dim() == 4 and not x.is_contiguous()
            and x.is_contiguous(memory_format=torch.channels_last))


def dense(x: Tensor, channels_last: bool) -> Tensor:
    """``x`` laid out as the kernels read it (a copy only if it is not)."""
    if channels_last:
        return x.contiguous(memory_format=torch.channels_last)
    return x.contiguous()


def kernel_input(x: Tensor, layer: str) -> KernelInput:
    """``x`` as the kernels read it, with its sizes and layout."""
    channels_last = is_channels_last(x)
    n, c = x.shape[:2]
    s = spatial_size(x)
    if c * s > MAX_SAMPLE_ELEMENTS:
        raise ValueError(
            f'{layer}: one sample of the input holds {c * s} elements; the '
            f'Triton kernels index a sample with 32 bits (at most '
            f'{MAX_SAMPLE_ELEMENTS}). Use MMDYNACT_BACKEND=compiled or eager '
            f'for such inputs.')
    return KernelInput(dense(x, channels_last), n, c, s, channels_last)


def match_layout(grad: Tensor, x: Tensor) -> Tensor:
    """``grad`` in ``x``'s layout (autograd may hand over another one)."""
    return dense(grad, is_channels_last(x))


def acc_type(dtype: torch.dtype):
    """The Triton type to compute in: float64 for float64, else float32."""
    return tl.float64 if dtype == torch.float64 else tl.float32


def next_power_of_2(n: int) -> int:
    return 1 << max(n - 1, 0).bit_length()


# ------------------------------------------------------------------- tiles


class TileShape(NamedTuple):
    """How big a kernel's tiles are and how many warps walk one.

    Kernels that keep more values per element alive (recomputed
    convolutions, several running sums) take smaller tiles or more warps, so
    that every thread holds few elements and no register spills.
    """
    #: elements per tile
    elements: int
    #: most channels (channels-last) or positions (contiguous) along the
    #: contiguous dimension of a tile
    along_channels_last: int
    along_contiguous: int
    #: ``num_warps`` of the launch
    warps: int

    def blocks(self, c: int, s: int, channels_last: bool) -> tuple:
        """``(block_c, block_s)`` for ``C`` channels and ``S`` positions
        (within :data:`TILE_LIMIT`, if set)."""
        limit = TILE_LIMIT or self
        elements = min(self.elements, limit.elements)
        if channels_last:
            along = min(self.along_channels_last, limit.along_channels_last)
            block_c = min(next_power_of_2(c), along, elements)
            block_s = min(next_power_of_2(s), max(elements // block_c, 1))
        else:
            along = min(self.along_contiguous, limit.along_contiguous)
            block_s = min(next_power_of_2(s), along, elements)
            block_c = min(next_power_of_2(c), max(elements // block_s, 1))
        return block_c, block_s


#: an upper bound on every kernel's tiles, or None; the interpreter tests
#: shrink tiles so that small tensors span many of them (call
#: :func:`clear_tiling_caches` after changing it)
TILE_LIMIT: Optional[TileShape] = None
#: the tiles of streaming kernels: a load, a little arithmetic, a store
STREAM = TileShape(2048, 128, 512, 8)
#: tiles of kernels that also keep running sums per element
REDUCE = TileShape(1024, 64, 256, 8)


class RowTiling(NamedTuple):
    """How a row kernel splits ``(N, C, S)`` into programs."""
    block_c: int
    block_s: int
    c_blocks: int
    #: chunks of positions per (sample, block of channels)
    chunks: int
    #: positions per chunk (a multiple of ``block_s``)
    chunk_size: int
    warps: int

    def grid(self, n: int) -> tuple:
        return (n * self.c_blocks, self.chunks)


class ColumnTiling(NamedTuple):
    """How a column kernel splits ``(N, C, S)`` into programs: one per
    sample and block of ``block_s`` positions."""
    block_c: int
    block_s: int
    s_blocks: int
    warps: int

    def grid(self, n: int) -> tuple:
        return (n, self.s_blocks)


@functools.lru_cache(maxsize=4096)
def row_tiling(c: int, s: int, channels_last: bool, shape: TileShape,
               parallel: Optional[int]) -> RowTiling:
    """Row tiles for ``(N, C, S)`` in the given layout.

    Args:
        c, s: Channels and positions.
        channels_last: The layout.
        shape: The kernel's :class:`TileShape`.
        parallel: For reductions, about how many programs to give each
            sample (chunks shrink until there are that many); None: one
            tile per program (element-wise passes).
    """
    block_c, block_s = shape.blocks(c, s, channels_last)
    c_blocks = -(-c // block_c)
    s_blocks = -(-s // block_s)
    per_chunk = 1
    if parallel is not None:
        wanted = max(-(-parallel // c_blocks), 1)
        per_chunk = -(-s_blocks // min(wanted, s_blocks))
    chunk_size = per_chunk * block_s
    return RowTiling(block_c, block_s, c_blocks, -(-s // chunk_size),
                     chunk_size, shape.warps)


@functools.lru_cache(maxsize=4096)
def column_tiling(c: int, s: int, channels_last: bool,
                  shape: TileShape) -> ColumnTiling:
    """Column tiles for ``(N, C, S)`` in the given layout."""
    block_c, block_s = shape.blocks(c, s, channels_last)
    return ColumnTiling(block_c, block_s, -(-s // block_s), shape.warps)


def row_launch(inp: KernelInput, tiles: RowTiling) -> dict:
    """The launch arguments every row kernel takes: sizes, tiles, layout,
    the type to compute in and the warps."""
    return dict(column_launch(inp, tiles), CHUNK=tiles.chunk_size)


def column_launch(inp: KernelInput, tiles) -> dict:
    """The launch arguments every column kernel takes (see
    :func:`row_launch`)."""
    return dict(
        C=inp.c,
        S=inp.s,
        BLOCK_C=tiles.block_c,
        BLOCK_S=tiles.block_s,
        CHANNELS_LAST=inp.channels_last,
        ACC=acc_type(inp.x.dtype),
        num_warps=tiles.warps)


def clear_tiling_caches() -> None:
    """Forget computed tilings (after changing :data:`TILE_LIMIT`)."""
    row_tiling.cache_clear()
    column_tiling.cache_clear()


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
