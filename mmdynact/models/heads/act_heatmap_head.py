"""mmpose's ``HeatmapHead`` with a configurable activation.

Imports mmpose: it is loaded only when an ``ActHeatmapHead`` is built (see
:mod:`mmdynact.models.heads`).

mmpose's ``HeatmapHead`` (SimpleBaseline) builds ``deconv -> BN -> ReLU``
and ``conv -> BN -> ReLU`` layers with a hard-coded ``nn.ReLU``. The DY-ReLU
paper puts DY-ReLU-C (spatial and channel-wise) in the keypoint head, so
this head builds the upstream layers and replaces each ``ReLU`` by
``act_cfg`` sized for the preceding norm's channels. With the default
``act_cfg`` (ReLU) it equals the upstream head.
"""
from mmpose.models.heads import HeatmapHead
from torch import nn

from mmdynact.models.activations import build_activation

RELU = dict(type='ReLU', inplace=True)


def replace_relus(layers: nn.Sequential, act_cfg: dict) -> nn.Sequential:
    """Replace every ``nn.ReLU`` of ``norm -> ReLU`` pairs in ``layers``.

    Each new activation is built for the ``num_features`` of the norm just
    before it.
    """
    for index, layer in enumerate(layers):
        if not isinstance(layer, nn.ReLU):
            continue
        norm = layers[index - 1] if index > 0 else None
        if not hasattr(norm, 'num_features'):
            raise ValueError(
                f'ActHeatmapHead: expected a norm layer before the ReLU at '
                f'index {index} of {layers}, got {norm!r}')
        layers[index] = build_activation(act_cfg, norm.num_features)
    return layers


class ActHeatmapHead(HeatmapHead):
    """``HeatmapHead`` whose deconv/conv layers use ``act_cfg``.

    Args:
        act_cfg: Activation after each deconv/conv + BN, e.g.
            ``dict(type='DyReLUC')``; the channel count is filled in.
        *args, **kwargs: Arguments of mmpose's ``HeatmapHead``.
    """

    def __init__(self, *args, act_cfg: dict = RELU, **kwargs) -> None:
        # read by the layer builders while HeatmapHead.__init__ runs
        self.act_cfg = act_cfg
        super().__init__(*args, **kwargs)

    def _make_deconv_layers(self, *args, **kwargs) -> nn.Module:
        return replace_relus(super()._make_deconv_layers(*args, **kwargs),
                             self.act_cfg)

    def _make_conv_layers(self, *args, **kwargs) -> nn.Module:
        return replace_relus(super()._make_conv_layers(*args, **kwargs),
                             self.act_cfg)
