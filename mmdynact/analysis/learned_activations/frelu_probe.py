"""FReLU: where the funnel condition wins, ``T(x) > x``."""
from typing import Any, Dict

import numpy as np
import torch
from torch import Tensor

from .probe import LayerProbe, describe


class FReLUProbe(LayerProbe):
    """Counts per channel the positions where ``funnel(x) > x``."""

    kind = 'frelu'
    titles = {'frelu': 'FReLU: y = max(x, T(x)) at sampled positions'}
    spread_title = 'FReLU: share of positions where the funnel wins, ' \
        'per channel'

    def __init__(self, name, module) -> None:
        super().__init__(name, module)
        self._wins = np.zeros(module.channels, dtype=np.int64)
        self._positions = 0
        self._points = []

    def observe(self, x: Tensor, output: Tensor) -> None:
        funnel = self.module.funnel(x)
        wins = funnel > x
        self._wins += wins.sum(dim=(0, 2, 3)).cpu().numpy()
        self._positions += x.numel() // x.shape[1]
        picks = self.sample_positions(x)
        self._points.append(
            torch.stack([
                x.flatten()[picks],
                torch.maximum(x, funnel).flatten()[picks],
                wins.flatten()[picks].to(x.dtype)
            ]).double().cpu().numpy())

    @property
    def win_fraction(self) -> float:
        """Share of all positions (and channels) where ``T(x) > x``."""
        return float(self._wins.sum() / (self._positions * self.channels))

    @property
    def channel_win_fractions(self) -> np.ndarray:
        """Share per channel, ``(C, )``."""
        return self._wins / self._positions

    def summary(self) -> Dict[str, Any]:
        return dict(
            win_fraction=self.win_fraction,
            channel_win_fraction=describe(self.channel_win_fractions))

    def summary_text(self) -> str:
        channels = self.summary()['channel_win_fraction']
        return (f'funnel wins at {self.win_fraction:.1%} of positions '
                f'(channels 5-95%: {channels["p05"]:.1%}..'
                f'{channels["p95"]:.1%})')

    def spread(self) -> Dict[str, np.ndarray]:
        return {'win fraction': self.channel_win_fractions}

    def plot(self, ax) -> None:
        x, y, won = np.concatenate(self._points, axis=1)
        low, high = self.input_range()
        won = won > 0
        ax.scatter(
            x[~won], y[~won], s=2, color='tab:blue', alpha=0.4, label='x wins')
        ax.scatter(
            x[won],
            y[won],
            s=2,
            color='tab:orange',
            alpha=0.4,
            label='T(x) wins')
        ax.plot([low, high], [low, high], 'k--', lw=0.8, label='y = x')
        ax.set_xlim(low, high)
