# ReLU baseline of the ACON ResNet-50 configs: the ResNet-50 of the official
# ACON code (stride on the first 1x1 conv, no dropout, see
# ../_base_/resnet_placements.py) with its recipe.
_base_ = [
    '../_base_/act-resnet50_8xb32-linear-120e_in1k.py',
    '../_base_/resnet_placements.py'
]
model = dict(backbone=_base_.megvii_resnet)
