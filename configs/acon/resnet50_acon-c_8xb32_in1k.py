# ACON-C ResNet-50 on ImageNet-1k: ACON-C after the 3x3 conv of every block
# of the official code's ResNet (../_base_/resnet_placements.py), its
# recipe (../_base_/act-resnet50_8xb32-linear-120e_in1k.py: no weight decay
# on p1, p2, beta, norms and biases).
_base_ = [
    '../_base_/act-resnet50_8xb32-linear-120e_in1k.py',
    '../_base_/resnet_placements.py'
]
model = dict(backbone=dict(**_base_.acon_c))
