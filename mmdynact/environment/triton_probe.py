"""A tiny Triton kernel, to see whether Triton compiles and runs here.

    python mmdynact/environment/triton_probe.py DEVICE

Adds one to ten numbers on DEVICE (``cuda``; or ``cpu`` with
``TRITON_INTERPRET=1``, Triton's interpreter) and prints ``ok``; any failure
exits non-zero. ``python -m mmdynact.check_env`` runs it in a subprocess:
Triton reads ``TRITON_INTERPRET`` when a kernel is defined, and a broken
GPU driver must not take the report down with it.
"""
import sys

import torch
import triton
import triton.language as tl

COUNT = 10


@triton.jit
def _add_one(pointer, count, BLOCK: tl.constexpr):
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    inside = offsets < count
    values = tl.load(pointer + offsets, mask=inside)
    tl.store(pointer + offsets, values + 1, mask=inside)


def main(device: str) -> None:
    """Run the kernel on ``device``; exit non-zero on a wrong result."""
    values = torch.arange(COUNT, dtype=torch.float32, device=device)
    _add_one[(1, )](values, COUNT, BLOCK=16)
    expected = torch.arange(1, COUNT + 1, dtype=torch.float32)
    if not torch.equal(values.cpu(), expected):
        raise SystemExit(f'wrong result: {values.tolist()}')
    print('ok')


if __name__ == '__main__':
    main(sys.argv[1])
