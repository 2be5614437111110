"""Backbones with per-position dynamic activations.

``ActResNet``, ``ActResNetV1c`` and ``ActResNetV1d`` (see
:mod:`.act_resnet`) subclass mmpretrain's ResNet. They are registered in
mmengine's root ``MODELS`` as lazy builders, so ``import mmdynact`` does not
import mmpretrain, and configs of mmdet, mmseg, mmpretrain and mmpose (any
``default_scope``) can use them; mmpretrain must be installed to build them.
"""
from mmdynact.models.utils import register_lazy

for _name in ('ActResNet', 'ActResNetV1c', 'ActResNetV1d'):
    register_lazy(_name, 'mmdynact.models.backbones.act_resnet', 'mmpretrain',
                  'cls')

__all__: list = []
