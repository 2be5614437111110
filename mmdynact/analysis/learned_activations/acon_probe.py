"""ACON family: the switching factor ``beta`` and the resulting curves."""
from typing import Any, Dict, Tuple

import numpy as np
import torch
from torch import Tensor, nn

from mmdynact.models.activations import AconA, AconB, AconC, MetaAconC
from .probe import LayerProbe, channel_colors, curve_channels, describe


def acon_parameters(module: nn.Module,
                    x: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """``p1``, ``p2`` (``(1, C, 1, 1)``) and ``beta`` (``(N|1, C, 1, 1)``).

    ``y = (p1 - p2) x sigmoid(beta (p1 - p2) x) + p2 x`` for every member:
    ACON-A has ``p1 = 1, p2 = 0``, ACON-B ``p1 = 1, p2 = p``; Meta-ACON's
    ``beta`` is ``switching_factor(x)``, one per input and channel.
    """
    if isinstance(module, MetaAconC):
        return module.p1, module.p2, module.switching_factor(x)
    if isinstance(module, AconC):
        return module.p1, module.p2, module.beta
    if isinstance(module, AconB):
        return torch.ones_like(module.p), module.p, module.beta
    if isinstance(module, AconA):
        return (torch.ones_like(module.beta), torch.zeros_like(module.beta),
                module.beta)
    raise TypeError(f'not an ACON layer: {type(module).__name__}')


def acon_curve(xs: np.ndarray, p1: float, p2: float,
               beta: float) -> np.ndarray:
    """The ACON function of one channel at the points ``xs``."""
    dx = (p1 - p2) * xs
    return dx / (1 + np.exp(-beta * dx)) + p2 * xs


class AconProbe(LayerProbe):
    """``beta`` per input and channel (a constant for ACON-A/B/C)."""

    kind = 'acon'
    titles = {
        'meta_acon': 'Meta-ACON: curves at each input\'s beta',
        'acon': 'ACON: learned curves',
    }

    def __init__(self, name, module) -> None:
        super().__init__(name, module)
        self._beta = []
        self._p1 = self._p2 = None

    @property
    def section(self) -> str:
        return 'meta_acon' if self._per_input else 'acon'

    @property
    def _per_input(self) -> bool:
        """Whether ``beta`` is generated per input (Meta-ACON)."""
        return isinstance(self.module, MetaAconC)

    @property
    def spread_title(self) -> str:
        return ('Meta-ACON switching factor beta across channels and inputs'
                if self._per_input else 'ACON learned beta across channels')

    def observe(self, x: Tensor, output: Tensor) -> None:
        p1, p2, beta = (
            value.detach().double().cpu().expand(
                -1, self.channels, 1, 1).reshape(-1, self.channels).numpy()
            for value in acon_parameters(self.module, x))
        self._p1, self._p2 = p1[0], p2[0]
        if self._per_input or not self._beta:
            self._beta.append(beta)

    @property
    def beta(self) -> np.ndarray:
        """``(inputs, C)`` for Meta-ACON, ``(1, C)`` for ACON-A/B/C."""
        return np.concatenate(self._beta)

    def summary(self) -> Dict[str, Any]:
        return dict(
            beta=describe(self.beta),
            p1_minus_p2=describe(self._p1 - self._p2),
            p2=describe(self._p2))

    def summary_text(self) -> str:
        stats = self.summary()
        return ' | '.join(f'{key} {value["mean"]:.3f} ({value["p05"]:.3f}..'
                          f'{value["p95"]:.3f})'
                          for key, value in stats.items())

    def spread(self) -> Dict[str, np.ndarray]:
        return dict(beta=self.beta.ravel())

    def plot(self, ax) -> None:
        low, high = self.input_range()
        xs = np.linspace(low, high, 200)
        beta = self.beta
        channels = curve_channels(self.channels)
        for color, channel in zip(channel_colors(len(channels)), channels):
            for n in range(beta.shape[0]):
                ax.plot(
                    xs,
                    acon_curve(xs, self._p1[channel], self._p2[channel],
                               beta[n, channel]),
                    color=color,
                    lw=0.8,
                    alpha=0.6,
                    label=f'c{channel}' if n == 0 else None)
        ax.plot(xs, np.maximum(xs, 0), 'k--', lw=0.8, label='ReLU')
