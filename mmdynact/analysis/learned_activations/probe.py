"""The common part of the per-layer probes: a forward hook that samples."""
from typing import Any, Dict, Tuple

import numpy as np
import torch
from matplotlib import colormaps
from torch import Tensor, nn

#: input values sampled per forward call, for the x-range of the curves
SAMPLES_PER_CALL = 4096
#: (low, high) percentiles of the sampled inputs the curves span
CURVE_PERCENTILES = (1.0, 99.0)
#: at most this many channels are drawn per layer
MAX_CURVE_CHANNELS = 6
#: (x, y) points kept per forward call by the probes that draw scatters
POINTS_PER_CALL = 1500


def describe(values: np.ndarray) -> Dict[str, float]:
    """Mean, 5th and 95th percentile, min and max of ``values``."""
    values = np.asarray(values, dtype=np.float64).ravel()
    p05, p95 = np.percentile(values, (5, 95))
    return dict(
        mean=float(values.mean()),
        p05=float(p05),
        p95=float(p95),
        min=float(values.min()),
        max=float(values.max()))


def curve_channels(channels: int) -> np.ndarray:
    """Evenly spaced channel indices to draw, at most MAX_CURVE_CHANNELS."""
    count = min(channels, MAX_CURVE_CHANNELS)
    return np.unique(np.linspace(0, channels - 1, count).round().astype(int))


def channel_colors(count: int) -> list:
    """``count`` distinct colours for the drawn channels."""
    return [colormaps['tab10'](index % 10) for index in range(count)]


class LayerProbe:
    """Records what one activation layer sees and does; a forward hook.

    Subclasses implement :meth:`observe` (called with each input and output
    of the layer), :meth:`summary` (numbers), :meth:`spread` (values whose
    distribution the overview figure shows) and :meth:`plot` (the layer's
    input -> output curves on a matplotlib ``Axes``).

    Args:
        name: The layer's name in the model.
        module: The layer.
    """

    #: the probe kind, as activations name it (``spec.probe``), e.g.
    #: ``'dyrelu'``; one of ``mmdynact.models.activations.PROBE_KINDS``
    kind = ''
    #: the report's sections of this probe's layers (key -> title of the
    #: curve pages), in report order; one section named ``kind`` unless a
    #: probe splits its layers (:attr:`section`)
    titles: Dict[str, str] = {}
    #: what the family's overview figure shows
    spread_title = ''

    def __init__(self, name: str, module: nn.Module) -> None:
        self.name = name
        self.module = module
        self.calls = 0
        self._samples = []
        self._generator = torch.Generator().manual_seed(0)

    @property
    def section(self) -> str:
        """The report section (a key of :attr:`titles`) of this layer."""
        return self.kind

    @property
    def type_name(self) -> str:
        """Class name of the layer."""
        return type(self.module).__name__

    @property
    def channels(self) -> int:
        """Channels of the layer."""
        return self.module.channels

    def __call__(self, module: nn.Module, args: Tuple[Any, ...],
                 output: Tensor) -> None:
        x = args[0].detach()
        flat = x.flatten()
        picks = torch.randint(
            0, flat.numel(), (SAMPLES_PER_CALL, ), generator=self._generator)
        self._samples.append(flat[picks.to(flat.device)].float().cpu())
        self.calls += 1
        with torch.no_grad():
            self.observe(x, output.detach())

    def sample_positions(self, x: Tensor) -> Tensor:
        """:data:`POINTS_PER_CALL` random indices into ``x.flatten()``."""
        picks = torch.randint(
            0, x.numel(), (POINTS_PER_CALL, ), generator=self._generator)
        return picks.to(x.device)

    def input_range(self) -> Tuple[float, float]:
        """x-range of the curves: central inputs, widened to include 0."""
        low, high = np.percentile(
            torch.cat(self._samples).numpy(), CURVE_PERCENTILES)
        return min(float(low), -1e-3), max(float(high), 1e-3)

    def observe(self, x: Tensor, output: Tensor) -> None:
        raise NotImplementedError

    def summary(self) -> Dict[str, Any]:
        raise NotImplementedError

    def summary_text(self) -> str:
        """One line for the text summary."""
        raise NotImplementedError

    def spread(self) -> Dict[str, np.ndarray]:
        raise NotImplementedError

    def plot(self, ax) -> None:
        raise NotImplementedError
