# FReLU ResNet-50, FReLU only after the 3x3 conv (stages 1-3).
_base_ = [
    '../_base_/act-resnet50_8xb32-linear-120e_in1k.py',
    '../_base_/resnet_placements.py'
]
model = dict(backbone=dict(**_base_.frelu_partial), head=_base_.funnelact_head)
