"""Heads with dynamic activations.

``ActHeatmapHead`` (see :mod:`.act_heatmap_head`) subclasses mmpose's
``HeatmapHead``; it is registered in mmengine's root ``MODELS`` as a lazy
builder, so ``import mmdynact`` does not import mmpose.
"""
from mmdynact.models.utils import register_lazy

register_lazy('ActHeatmapHead', 'mmdynact.models.heads.act_heatmap_head',
              'mmpose', 'pose')

__all__: list = []
