# DY-ReLU-B ResNet-50 on ImageNet-1k: DY-ReLU-B at every activation.
# Recipe: ../_base_/act-resnet50_8xb32-linear-120e_in1k.py (the DY-ReLU
# paper's own ResNet recipe is not reproduced).
_base_ = [
    '../_base_/act-resnet50_8xb32-linear-120e_in1k.py',
    '../_base_/resnet_placements.py'
]
model = dict(backbone=dict(**_base_.dyrelu_b))
