"""What the benchmarks share: synchronised timing, autocast, formatting."""
import contextlib
import time
from typing import Callable, ContextManager, Tuple

import torch


def synchronize(device: torch.device) -> None:
    """Wait for the work queued on ``device`` (a no-op off CUDA)."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object],
          device: torch.device) -> Tuple[float, float]:
    """``(wall s, host s)`` of one synchronised call of ``fn``: the host
    time is how long Python took to issue it (CUDA runs it asynchronously;
    on a CPU the two are the same)."""
    synchronize(device)
    start = time.perf_counter()
    fn()
    host = time.perf_counter() - start
    synchronize(device)
    return time.perf_counter() - start, host


def autocast_for(dtype: torch.dtype,
                 device: torch.device) -> ContextManager[None]:
    """Autocast to ``dtype`` on ``device`` for bf16 and fp16, nothing for
    other dtypes (parameters stay float32)."""
    if dtype in (torch.bfloat16, torch.float16):
        return torch.autocast(device.type, dtype=dtype)
    return contextlib.nullcontext()


def milliseconds(seconds: float) -> str:
    """``seconds`` in ms, 3 decimals below 10 ms, 1 above."""
    value = seconds * 1e3
    return f'{value:.{3 if value < 10 else 1}f}'
