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
from mmcv.cnn import build_norm_layer
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmdynact.ops import (HyperNetwork, Pieces, SpatialAttention,
                          bounded_softmax, dynamic_relu,
                          piecewise_linear_max_op)
from mmdynact.ops.hyper_network import check_batch
from mmdynact.ops.piecewise_linear_max import PiecewiseLinearMaxFunction
from .base import ChannelActivation, finite_float, positive_int
from .dispatch import FORMULA, STAGED, call_path
from .registry import ActivationSpec, register_activation

#: the hyper-function's activation (stateless, shared)
_RELU = nn.ReLU()


def _initial(layer: str, name: str, values: Optional[Sequence[float]], k: int,
             default: Tuple[float, ...]) -> Tuple[float, ...]:
    """The static slopes or intercepts: ``values``, or ``default`` (one per
    piece) when None; checked to hold ``k`` finite numbers."""
    if values is None:
        return default
    if isinstance(values, (str, bytes)) or not hasattr(values, '__len__'):
        raise ValueError(f'{layer}: {name} must be a sequence of k={k} '
                         f'numbers, got {values!r}')
    if len(values) != k:
        raise ValueError(f'{layer}: {name} needs k={k} values (one per '
                         f'piece), got {tuple(values)}; leave it out for the '
                         f'default {default}')
    return tuple(finite_float(layer, name, value) for value in values)


class _DyReLU(ChannelActivation):
    """Shared part of DY-ReLU-A/B/C: the coefficient hyper-function.

    Args:
        channels: Input channels ``C``.
        k: Number of linear pieces ``K``.
        reduction: Reduction ratio ``R`` of the hidden layer (``C // R``
            units, at least 1).
        lambda_a, lambda_b: Ranges of the slope and intercept residuals.
        init_a, init_b: Static slopes ``alpha`` and intercepts ``beta``, one
            per piece; by default ``alpha = (1, 0, ..., 0)``, ``beta = (0,
            ..., 0)``, so that the static part is ReLU.
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
                 init_a: Optional[Sequence[float]] = None,
                 init_b: Optional[Sequence[float]] = None,
                 inplace: bool = False) -> None:
        super().__init__(channels, inplace)
        name = type(self).__name__
        self.k = positive_int(name, 'k', k)
        reduction = positive_int(name, 'reduction', reduction)
        self.lambda_a = finite_float(name, 'lambda_a', lambda_a)
        self.lambda_b = finite_float(name, 'lambda_b', lambda_b)
        init_a = _initial(name, 'init_a', init_a, k,
                          (1.0, ) + (0.0, ) * (k - 1))
        init_b = _initial(name, 'init_b', init_b, k, (0.0, ) * k)
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
        return self.fc2(_RELU(self.fc1(pooled.to(self.fc1.weight.dtype))))

    def pieces(self) -> Pieces:
        return Pieces(self.init_a, self.init_b, self.lambda_a, self.lambda_b)

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
        self.check_input(x)
        path = call_path(x)
        if path is FORMULA:
            return self.formula(x)
        if path is STAGED:
            return piecewise_linear_max_op(
                x, self.hyper_function(x.mean(dim=tuple(range(2, x.dim())))),
                self.pieces())
        network = HyperNetwork.of((self.fc1, _RELU, self.fc2), self,
                                  'hyper-function')
        return dynamic_relu(x, self.pieces(), network, None,
                            type(self).__name__)

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


_DYRELU = ActivationSpec(
    kernels=(PiecewiseLinearMaxFunction, ),
    probe='dyrelu',
    cpu_time_target=0.15,
    gpu_time_target=2.0)


@register_activation(_DYRELU)
class DyReLUA(_DyReLU):
    """DY-ReLU-A: ``y = max_k(a^k x + b^k)``, one ``(a, b)`` for all channels.

    Accepts ``(N, C, H, W)`` and ``(N, C, L)``. See :mod:`.dyrelu`.
    """
    shared_coefficients = True


@register_activation(_DYRELU)
class DyReLUB(_DyReLU):
    """DY-ReLU-B: ``y_c = max_k(a_c^k x_c + b_c^k)``, per-channel pieces.

    Accepts ``(N, C, H, W)`` and ``(N, C, L)``. See :mod:`.dyrelu`.
    """


@register_activation(_DYRELU._replace(gpu_time_target=3.0))
class DyReLUC(_DyReLU):
    """DY-ReLU-C: ``y = pi * max_k(a_c^k x + b_c^k)``, per channel+position.

    ``pi = min(gamma * softmax(z / tau), 1)`` over the H*W positions,
    ``z = norm(Conv1x1(x))``, ``gamma = H*W / 3``. Accepts ``(N, C, H, W)``.
    Since ``pi > 0``, scaling the coefficients by it is the same as scaling
    the max.

    Args:
        temperature: Initial softmax temperature ``tau`` (the paper anneals it
            from about 10 to 1 early in training; see
            ``DyReLUTemperatureHook``). Stored in the state dict.
        norm_cfg: Norm layer after the 1x1 conv of the spatial attention, or
            None. ActResNet and ConvModule fill in their own ``norm_cfg``
            (SyncBN on a cluster, ``requires_grad``...) unless ``act_cfg``
            sets one.
        **kwargs: As for :class:`DyReLUB`.
    """
    input_ranks = (4, )
    follows_norm_cfg = True

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
        if not finite_float('DyReLUC', 'temperature', value) > 0:
            raise ValueError(f'DyReLUC: temperature must be > 0, got {value}')
        self._temperature.fill_(value)

    def _logits(self, x: Tensor) -> Tensor:
        """``z = norm(Conv1x1(x))`` ``(N, 1, H, W)``, plain autograd ops."""
        conv = self.spatial_conv
        return self.spatial_norm(conv(x.to(conv.weight.dtype)))

    def spatial_attention(self, x: Tensor) -> Tensor:
        """``pi = min(gamma softmax(z / tau), 1)``, shaped ``(N, 1, H, W)``
        (plain autograd ops, for looking inside)."""
        self.check_input(x)
        return bounded_softmax(self._logits(x), self._temperature)

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x)
        path = call_path(x)
        if path is FORMULA:
            return self.formula(x)
        norm = self.spatial_norm
        if isinstance(norm, _BatchNorm):
            check_batch(norm,
                        x.numel() // x.shape[1], 'DyReLUC',
                        'spatial attention')
        if path is STAGED:
            theta = self.hyper_function(x.mean(dim=(2, 3)))
            return piecewise_linear_max_op(x, theta, self.pieces(),
                                           self._logits(x), self._temperature)
        conv = self.spatial_conv
        spatial = SpatialAttention(
            conv.weight, conv.bias,
            HyperNetwork.of((norm, ), self, 'spatial norm'), self._temperature)
        network = HyperNetwork.of((self.fc1, _RELU, self.fc2), self,
                                  'hyper-function')
        return dynamic_relu(x, self.pieces(), network, spatial, 'DyReLUC')

    def formula(self, x: Tensor) -> Tensor:
        """Per-position coefficients ``pi_hw a_c^k``, ``pi_hw b_c^k``."""
        a, b = self.coefficients(x)
        pi = self.spatial_attention(x).unsqueeze(-1)
        return _stacked_max(x,
                            _per_channel(a, 4) * pi,
                            _per_channel(b, 4) * pi)

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, temperature={self.temperature:g}'
