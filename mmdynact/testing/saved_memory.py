"""Bytes of the tensors autograd keeps for backward."""
from typing import Callable, Tuple

import torch
from torch import Tensor


def saved_tensor_bytes(fn: Callable[..., Tensor],
                       *inputs) -> Tuple[int, Tensor]:
    """Run ``fn(*inputs)`` and count what autograd saves for its backward.

    Every distinct storage packed by autograd is counted once, inputs and
    parameters included; the output's storage is excluded (the next layer
    keeps it anyway).

    Returns:
        ``(bytes, output)``.
    """
    storages = {}

    def pack(tensor: Tensor) -> Tensor:
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        output = fn(*inputs)
    storages.pop(output.untyped_storage().data_ptr(), None)
    return sum(storages.values()), output
