"""Edits of state dicts shared by the checkpoint converters."""
import re
from typing import Dict, Iterable, Mapping

from torch import Tensor

#: the tensors of a batch norm that have one value per channel
NORM_VECTORS = ('weight', 'bias', 'running_mean', 'running_var')


def reject_unknown_keys(official: Mapping[str, Tensor], pattern: re.Pattern,
                        model: str, expected: str) -> None:
    """Raise a KeyError listing the keys of ``official`` not in ``pattern``.

    Args:
        official: The official state dict.
        pattern: Regular expression every key must match in full.
        model: The official model, for the message.
        expected: What the keys should look like, for the message.
    """
    unknown = [key for key in official if not pattern.fullmatch(key)]
    if unknown:
        raise KeyError(
            f'unexpected keys for an official {model}: {unknown[:10]}'
            f'{" ..." if len(unknown) > 10 else ""} (expected {expected})')


def fold_conv_bias(state: Dict[str, Tensor], conv: str, norm: str) -> None:
    """Remove ``conv.bias`` by moving it into the batch norm ``norm``.

    ``BN(conv(x) + bias)`` equals ``BN'(conv(x))`` with ``running_mean' =
    running_mean - bias``: exactly in eval mode, and in training mode too,
    where the batch mean cancels the bias.

    Args:
        state: State dict, edited in place.
        conv: Prefix of the convolution (``<conv>.bias``).
        norm: Prefix of the batch norm that follows it.
    """
    bias = state.pop(f'{conv}.bias', None)
    if bias is None:
        return
    mean_key = f'{norm}.running_mean'
    if mean_key not in state:
        raise KeyError(f'{conv}.bias has no batch norm to fold into: '
                       f'{mean_key} is missing from the checkpoint')
    state[mean_key] = state[mean_key] - bias


def check_state_dict(converted: Mapping[str, Tensor],
                     expected: Mapping[str, Tensor], target: str) -> None:
    """Raise if ``converted`` would not load strictly where ``expected``.

    Args:
        converted: The converted tensors.
        expected: The target module's ``state_dict()``.
        target: Description of the target, for the message.
    """
    missing = sorted(set(expected) - set(converted))
    unexpected = sorted(set(converted) - set(expected))
    if missing or unexpected:
        raise KeyError(
            f'the converted checkpoint does not fit {target}:'
            f'{_listing("missing keys", missing)}'
            f'{_listing("unexpected keys", unexpected)}\nIs the input a '
            'complete checkpoint of the official model this converter is '
            'for?')
    mismatched = [
        f'{key}: {tuple(converted[key].shape)} vs {tuple(value.shape)}'
        for key, value in expected.items()
        if converted[key].shape != value.shape
    ]
    if mismatched:
        listing = _listing('shape (converted vs model)', mismatched)
        raise ValueError(
            f'the converted checkpoint does not fit {target}:{listing}')


def _listing(title: str, items: Iterable[str], limit: int = 10) -> str:
    items = list(items)
    if not items:
        return ''
    shown = ', '.join(items[:limit])
    more = f' and {len(items) - limit} more' if len(items) > limit else ''
    return f'\n  {title} ({len(items)}): {shown}{more}'
