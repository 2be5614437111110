"""DY-ReLU: piecewise-linear activations whose pieces depend on the input.

Chen et al., "Dynamic ReLU", ECCV 2020 (arXiv:2003.10027)::

    y_c = max_k (a_c^k(x) * x_c + b_c^k(x)),    k = 1..K

A hyper-function of the whole input produces the coefficients: global
average pooling -> Linear(C, C/R) -> ReLU -> Linear -> ``2 sigmoid(.) - 1``
gives residuals in (-1, 1), and

    a^k = alpha^k + lambda_a * delta_a^k,   b^k = beta^k + lambda_b * delta_b^k

with ``alpha = (1, 0), beta = (0, 0)`` by default, so the static part is ReLU.

* DY-ReLU-A: one set of coefficients for all channels.
* DY-ReLU-B: coefficients per channel.
* DY-ReLU-C: per channel and position: B's coefficients times a spatial
  attention ``pi = min(gamma * softmax(z / tau), 1)`` over the H*W positions,
  ``z`` from a 1x1 conv + BN, ``gamma = H*W / 3``, ``tau`` a temperature that
  is annealed during training (see ``DyReLUTemperatureHook``).
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from torch import Tensor, nn

from mmdynact.ops import (bounded_softmax, folded_input_gradient,
                          piecewise_linear_max, spatial_mean,
                          spatial_mean_projection)
from mmdynact.ops.piecewise_linear_max import PiecewiseLinearMaxFunction
from mmdynact.ops.pooling import (SpatialMeanFunction,
                                  SpatialMeanProjectionFunction)
from .base import ChannelActivation
from .export import exporting
from .registry import ActivationSpec, register_activation


class _DyReLU(ChannelActivation):
    """Shared part of DY-ReLU-A/B/C: the coefficient hyper-function.

    Args:
        channels: Input channels ``C``.
        k: Number of linear pieces ``K``.
        reduction: Reduction ratio ``R`` of the hidden layer (``C // R``
            units, at least 1).
        lambda_a, lambda_b: Ranges of the slope and intercept residuals.
        init_a, init_b: Static slopes ``alpha`` and intercepts ``beta``, one
            per piece.
        inplace: Ignored (see :class:`ChannelActivation`).
    """

    #: whether all channels share one set of coefficients (DY-ReLU-A)
    shared_coefficients = False
    input_ranks = (3, 4)

    def __init__(self,
                 channels: Optional[int] = None,
                 k: int = 2,
                 reduction: int = 4,
                 lambda_a: float = 1.0,
                 lambda_b: float = 0.5,
                 init_a: Sequence[float] = (1.0, 0.0),
                 init_b: Sequence[float] = (0.0, 0.0),
                 inplace: bool = False) -> None:
        super().__init__(channels, inplace)
        name = type(self).__name__
        if k < 1 or len(init_a) != k or len(init_b) != k:
            raise ValueError(f'{name}: init_a and init_b need k={k} values '
                             f'each, got {tuple(init_a)} and {tuple(init_b)}')
        if reduction < 1:
            raise ValueError(f'{name}: reduction must be >= 1, '
                             f'got {reduction}')
        self.k = k
        self.lambda_a = lambda_a
        self.lambda_b = lambda_b
        self.coef_channels = 1 if self.shared_coefficients else channels
        hidden = max(channels // reduction, 1)
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, 2 * k * self.coef_channels)
        self.register_buffer(
            'init_a',
            torch.tensor(init_a, dtype=torch.float),
            persistent=False)
        self.register_buffer(
            'init_b',
            torch.tensor(init_b, dtype=torch.float),
            persistent=False)

    def hyper_function(self, pooled: Tensor) -> Tensor:
        """Raw coefficient logits ``theta`` ``(N, C' * 2 * K)`` of the
        pooled input ``(N, C)``, laid out ``(C', 2, K)``, slopes first."""
        return self.fc2(F.relu(self.fc1(pooled.to(self.fc1.weight.dtype))))

    def coefficients(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """Slopes and intercepts ``(a, b)`` for ``x``, each ``(N, C', K)``.

        ``C' = C``, or 1 for DY-ReLU-A. For DY-ReLU-C these are the values
        before the spatial attention. Plain autograd ops, for looking inside
        (the forward pass computes them within its kernels).
        """
        self.check_input(x)
        theta = self.hyper_function(x.mean(dim=tuple(range(2, x.dim()))))
        residual = 2 * torch.sigmoid(theta) - 1
        residual = residual.view(x.shape[0], self.coef_channels, 2, self.k)
        a = self.init_a + self.lambda_a * residual[:, :, 0]
        b = self.init_b + self.lambda_b * residual[:, :, 1]
        return a, b

    def forward(self, x: Tensor) -> Tensor:
        if exporting():
            return self.formula(x)
        self.check_input(x)
        name = type(self).__name__
        fold = folded_input_gradient(x)
        theta = self.hyper_function(spatial_mean(x, fold, name))
        return piecewise_linear_max(
            x,
            theta,
            self.init_a,
            self.init_b,
            self.lambda_a,
            self.lambda_b,
            fold=fold,
            layer=name)

    def formula(self, x: Tensor) -> Tensor:
        a, b = self.coefficients(x)
        return _stacked_max(x, _per_channel(a, x.dim()),
                            _per_channel(b, x.dim()))

    def extra_repr(self) -> str:
        return (f'channels={self.channels}, k={self.k}, '
                f'lambda_a={self.lambda_a}, lambda_b={self.lambda_b}')


def _stacked_max(x: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """``max_k(a_k x + b_k)`` over a stacked last dimension ``K``."""
    return (x.unsqueeze(-1) * a + b).max(dim=-1).values


def _per_channel(coef: Tensor, ndim: int) -> Tensor:
    """``(N, C', K)`` -> ``(N, C', 1, ..., 1, K)``."""
    return coef.reshape(coef.shape[:2] + (1, ) * (ndim - 2) + coef.shape[2:])


_DYRELU_AB = ActivationSpec(
    kernels=(SpatialMeanFunction, PiecewiseLinearMaxFunction),
    probe='dyrelu',
    cpu_time_target=0.15,
    gpu_time_target=2.0)


@register_activation(_DYRELU_AB)
class DyReLUA(_DyReLU):
    """DY-ReLU-A: ``y = max_k(a^k x + b^k)``, one ``(a, b)`` for all channels.

    Accepts ``(N, C, H, W)`` and ``(N, C, L)``. See :mod:`.dyrelu`.
    """
    shared_coefficients = True


@register_activation(_DYRELU_AB)
class DyReLUB(_DyReLU):
    """DY-ReLU-B: ``y_c = max_k(a_c^k x_c + b_c^k)``, per-channel pieces.

    Accepts ``(N, C, H, W)`` and ``(N, C, L)``. See :mod:`.dyrelu`.
    """


@register_activation(
    ActivationSpec(
        kernels=(SpatialMeanProjectionFunction, PiecewiseLinearMaxFunction),
        probe='dyrelu',
        cpu_time_target=0.15,
        gpu_time_target=3.0))
class DyReLUC(_DyReLU):
    """DY-ReLU-C: ``y = pi * max_k(a_c^k x + b_c^k)``, per channel+position.

    ``pi = min(gamma * softmax(z / tau), 1)`` over the H*W positions,
    ``z = BN(Conv1x1(x))``, ``gamma = H*W / 3``. Accepts ``(N, C, H, W)``.
    Since ``pi > 0``, scaling the coefficients by it is the same as scaling
    the max.

    Args:
        temperature: Initial softmax temperature ``tau`` (the paper anneals it
            from about 10 to 1 early in training; see
            ``DyReLUTemperatureHook``). Stored in the state dict.
        norm_cfg: Norm layer after the 1x1 conv of the spatial attention.
        **kwargs: As for :class:`DyReLUB`.
    """
    input_ranks = (4, )

    def __init__(self,
                 channels: Optional[int] = None,
                 temperature: float = 1.0,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 **kwargs) -> None:
        super().__init__(channels, **kwargs)
        self.spatial_conv = nn.Conv2d(self.channels, 1, 1)
        self.spatial_norm = (
            build_norm_layer(norm_cfg, 1)[1] if norm_cfg else nn.Identity())
        self.register_buffer('_temperature', torch.tensor(1.0))
        self.temperature = temperature

    @property
    def temperature(self) -> float:
        """Softmax temperature ``tau`` of the spatial attention."""
        return float(self._temperature)

    @temperature.setter
    def temperature(self, value: float) -> None:
        if not value > 0:
            raise ValueError(f'DyReLUC: temperature must be > 0, got {value}')
        self._temperature.fill_(value)

    def spatial_attention(self, x: Tensor) -> Tensor:
        """``pi = min(gamma softmax(z / tau), 1)``, shaped ``(N, 1, H, W)``
        (plain autograd ops, for looking inside)."""
        self.check_input(x)
        z = self.spatial_norm(self.spatial_conv(x))
        return bounded_softmax(z, self._temperature)

    def forward(self, x: Tensor) -> Tensor:
        if exporting():
            return self.formula(x)
        self.check_input(x)
        name = type(self).__name__
        fold = folded_input_gradient(x)
        conv = self.spatial_conv  # a 1x1 conv to one channel
        pooled, z = spatial_mean_projection(x, conv.weight, conv.bias, fold,
                                            name)
        return piecewise_linear_max(x, self.hyper_function(pooled),
                                    self.init_a, self.init_b, self.lambda_a,
                                    self.lambda_b,
                                    (self.spatial_norm(z), self._temperature),
                                    fold, name)

    def formula(self, x: Tensor) -> Tensor:
        """Per-position coefficients ``pi_hw a_c^k``, ``pi_hw b_c^k``."""
        a, b = self.coefficients(x)
        pi = self.spatial_attention(x).unsqueeze(-1)
        return _stacked_max(x,
                            _per_channel(a, 4) * pi,
                            _per_channel(b, 4) * pi)

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, temperature={self.temperature:g}'
