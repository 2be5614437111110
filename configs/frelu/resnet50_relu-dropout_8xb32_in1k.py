# ReLU baseline of the FReLU ResNet-50 configs: the ResNet-50 of the
# official FReLU code (stride on the first 1x1 conv, dropout 0.2 before the
# classifier, see ../_base_/resnet_placements.py) with its recipe.
_base_ = [
    '../_base_/act-resnet50_8xb32-linear-120e_in1k.py',
    '../_base_/resnet_placements.py'
]
model = dict(backbone=_base_.megvii_resnet, head=_base_.funnelact_head)
