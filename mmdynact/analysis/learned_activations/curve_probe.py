"""Any activation layer: sampled input -> output points, against ReLU.

The probe of layers that have no probe of their own (``spec.probe`` is
``'curve'``, the default of reference-only layers): it needs nothing but
the layer's input and output.
"""
import math
from typing import Any, Dict

import numpy as np
from torch import Tensor

from .probe import LayerProbe, channel_colors, curve_channels, describe


class CurveProbe(LayerProbe):
    """Keeps sampled ``(channel, x, y)`` of every call; reports how far
    ``y`` departs from ``ReLU(x)``."""

    kind = 'curve'
    titles = {'curve': 'Sampled outputs against inputs, by channel'}
    spread_title = 'Departure from ReLU, y - ReLU(x), at sampled positions'

    def __init__(self, name, module) -> None:
        super().__init__(name, module)
        self._points = []

    def observe(self, x: Tensor, output: Tensor) -> None:
        picks = self.sample_positions(x)
        channel = picks // math.prod(x.shape[2:]) % x.shape[1]
        self._points.append(
            np.stack([
                channel.double().cpu().numpy(),
                x.flatten()[picks].double().cpu().numpy(),
                output.flatten()[picks].double().cpu().numpy()
            ]))

    @property
    def points(self) -> np.ndarray:
        """``(3, samples)``: channel, input and output of each sample."""
        return np.concatenate(self._points, axis=1)

    @property
    def departure(self) -> np.ndarray:
        """``y - ReLU(x)`` of each sample."""
        _, x, y = self.points
        return y - np.maximum(x, 0)

    def summary(self) -> Dict[str, Any]:
        return dict(
            output=describe(self.points[2]),
            departure_from_relu=describe(self.departure))

    def summary_text(self) -> str:
        stats = self.summary()
        return ' | '.join(f'{key.replace("_", " ")} {value["mean"]:.3f} '
                          f'({value["p05"]:.3f}..{value["p95"]:.3f})'
                          for key, value in stats.items())

    def spread(self) -> Dict[str, np.ndarray]:
        return {'y - ReLU(x)': self.departure}

    def plot(self, ax) -> None:
        channel, x, y = self.points
        low, high = self.input_range()
        drawn = curve_channels(self.channels)
        for color, index in zip(channel_colors(len(drawn)), drawn):
            mine = channel == index
            ax.scatter(
                x[mine],
                y[mine],
                s=2,
                color=color,
                alpha=0.5,
                label=f'c{index}')
        ax.plot([low, 0, high], [0, 0, high], 'k--', lw=0.8, label='ReLU')
        ax.set_xlim(low, high)
