# DY-ReLU-B ResNet-50 on ImageNet-1k: DY-ReLU-B (R=4) at every activation
# of mmpretrain's ResNet-50 (../_base_/resnet_placements.py). Recipe:
# ../_base_/act-resnet50_8xb32-linear-120e_in1k.py, shared with the FReLU
# and ACON configs (the DY-ReLU paper's own ResNet recipe is not reproduced).
_base_ = [
    '../_base_/act-resnet50_8xb32-linear-120e_in1k.py',
    '../_base_/resnet_placements.py'
]
model = dict(backbone=dict(**_base_.dyrelu_b))
