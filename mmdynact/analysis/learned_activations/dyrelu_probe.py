"""DY-ReLU: the piecewise-linear functions and the spread of their slopes."""
from typing import Any, Dict

import numpy as np
from torch import Tensor

from mmdynact.models.activations import DyReLUC
from .probe import LayerProbe, channel_colors, curve_channels, describe


def _range_text(stats: Dict[str, float]) -> str:
    return f'{stats["mean"]:.3f} ({stats["p05"]:.3f}..{stats["p95"]:.3f})'


class DyReLUProbe(LayerProbe):
    """Coefficients ``a_k``, ``b_k`` of every input (``coefficients(x)``).

    For DY-ReLU-C these are the values before the spatial attention ``pi``,
    whose mean and share of capped (``pi = 1``) positions are recorded too.
    """

    kind = 'dyrelu'
    titles = {
        'dyrelu':
        'DY-ReLU: max_k(a_k x + b_k) per input (before the spatial '
        'attention for DY-ReLU-C)'
    }
    spread_title = 'DY-ReLU slopes a_k across channels and inputs'

    def __init__(self, name, module) -> None:
        super().__init__(name, module)
        self._a, self._b, self._pi_mean, self._pi_capped = [], [], [], []

    def observe(self, x: Tensor, output: Tensor) -> None:
        a, b = self.module.coefficients(x)
        self._a.append(a.double().cpu().numpy())
        self._b.append(b.double().cpu().numpy())
        if isinstance(self.module, DyReLUC):
            pi = self.module.spatial_attention(x).double()
            self._pi_mean.append(float(pi.mean()))
            self._pi_capped.append(float((pi >= 1).double().mean()))

    @property
    def slopes(self) -> np.ndarray:
        """``a``: ``(inputs, C', K)``."""
        return np.concatenate(self._a)

    @property
    def intercepts(self) -> np.ndarray:
        """``b``: ``(inputs, C', K)``."""
        return np.concatenate(self._b)

    def summary(self) -> Dict[str, Any]:
        result = {}
        for k in range(self.module.k):
            result[f'a{k + 1}'] = describe(self.slopes[..., k])
            result[f'b{k + 1}'] = describe(self.intercepts[..., k])
        if self._pi_mean:
            result['pi_mean'] = float(np.mean(self._pi_mean))
            result['pi_capped'] = float(np.mean(self._pi_capped))
        return result

    def summary_text(self) -> str:
        stats = self.summary()
        parts = [
            f'{key} {_range_text(stats[key])}' for key in stats
            if key[0] in 'ab'
        ]
        if 'pi_mean' in stats:
            parts.append(f'pi mean {stats["pi_mean"]:.3f}, '
                         f'capped at 1: {stats["pi_capped"]:.1%}')
        return ' | '.join(parts)

    def spread(self) -> Dict[str, np.ndarray]:
        return {
            f'a{k + 1}': self.slopes[..., k].ravel()
            for k in range(self.module.k)
        }

    def plot(self, ax) -> None:
        low, high = self.input_range()
        xs = np.linspace(low, high, 200)
        a, b = self.slopes, self.intercepts
        channels = curve_channels(a.shape[1])
        for color, channel in zip(channel_colors(len(channels)), channels):
            for n in range(a.shape[0]):
                ys = (a[n, channel, :, None] * xs +
                      b[n, channel, :, None]).max(axis=0)
                ax.plot(
                    xs,
                    ys,
                    color=color,
                    lw=0.8,
                    alpha=0.6,
                    label=f'c{channel}' if n == 0 else None)
        ax.plot(xs, np.maximum(xs, 0), 'k--', lw=0.8, label='ReLU')
