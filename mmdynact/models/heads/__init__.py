"""Heads the papers' experiments need.

``ActHeatmapHead`` (see :mod:`.act_heatmap_head`) subclasses mmpose's
``HeatmapHead`` with dynamic activations; ``DropoutLinearClsHead`` (see
:mod:`.dropout_linear_cls_head`) is mmpretrain's ``LinearClsHead`` with the
official FReLU ResNets' dropout. Both are registered in mmengine's root
``MODELS`` as lazy builders, so ``import mmdynact`` imports neither toolbox.
"""
from mmdynact.models.utils import register_lazy

register_lazy('ActHeatmapHead', 'mmdynact.models.heads.act_heatmap_head',
              'mmpose', 'pose')
register_lazy('DropoutLinearClsHead',
              'mmdynact.models.heads.dropout_linear_cls_head', 'mmpretrain',
              'cls')

__all__: list = []
