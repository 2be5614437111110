# FReLU ResNet-50 on ImageNet-1k: the official code's network (placement
# and stride, ../_base_/resnet_placements.py) and recipe.
_base_ = [
    '../_base_/act-resnet50_8xb32-linear-120e_in1k.py',
    '../_base_/resnet_placements.py'
]
model = dict(backbone=dict(**_base_.frelu), head=_base_.funnelact_head)
