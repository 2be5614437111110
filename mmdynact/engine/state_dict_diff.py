"""How a state dict differs from the one a model expects.

Shared by the checks of converted checkpoints
(:mod:`mmdynact.converters.conversion`) and of the checkpoint
``tools/test.py`` loads (:mod:`mmdynact.engine.hooks.checkpoint_checks`).
"""
from dataclasses import dataclass
from typing import Iterable, Mapping, Tuple

from torch import Tensor

#: how many keys of each kind a message lists
LISTED_KEYS = 20


@dataclass(frozen=True)
class StateDictDiff:
    """The keys of a loaded state dict against those a model expects.

    Attributes:
        missing: Keys of the model that the loaded state lacks.
        unexpected: Keys of the loaded state that the model lacks.
        mismatched: ``'key: (loaded shape) vs (model shape)'`` for the keys
            both have with different shapes.
    """
    missing: Tuple[str, ...]
    unexpected: Tuple[str, ...]
    mismatched: Tuple[str, ...]

    @classmethod
    def between(cls, loaded: Mapping[str, Tensor],
                expected: Mapping[str, Tensor]) -> 'StateDictDiff':
        """Compare ``loaded`` with ``expected`` (a ``state_dict()``)."""
        mismatched = tuple(
            f'{key}: {tuple(loaded[key].shape)} vs {tuple(value.shape)}'
            for key, value in expected.items()
            if key in loaded and isinstance(loaded[key], Tensor)
            and loaded[key].shape != value.shape)
        return cls(
            missing=tuple(key for key in expected if key not in loaded),
            unexpected=tuple(key for key in loaded if key not in expected),
            mismatched=mismatched)

    def covers(self) -> bool:
        """Whether every expected tensor is there, with its shape."""
        return not (self.missing or self.mismatched)

    def describe(self, loaded: str = 'loaded') -> str:
        """One indented line per non-empty kind of difference.

        Args:
            loaded: What the loaded state is called in the shape line.
        """
        return ''.join((
            listing('missing keys', self.missing),
            listing(f'shape ({loaded} vs model)', self.mismatched),
            listing('unexpected keys', self.unexpected),
        ))


def listing(title: str, items: Iterable[str], limit: int = LISTED_KEYS) -> str:
    """``'\\n  <title> (<count>): a, b, ... and N more'``; '' if no items."""
    items = list(items)
    if not items:
        return ''
    shown = ', '.join(items[:limit])
    more = f' and {len(items) - limit} more' if len(items) > limit else ''
    return f'\n  {title} ({len(items)}): {shown}{more}'
