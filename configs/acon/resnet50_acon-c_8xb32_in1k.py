# ACON-C ResNet-50 on ImageNet-1k: ACON-C after the 3x3 conv of every block;
# p1, p2, beta without weight decay. Recipe: the Megvii ResNet recipe of
# ../_base_/act-resnet50_8xb32-linear-120e_in1k.py.
_base_ = [
    '../_base_/act-resnet50_8xb32-linear-120e_in1k.py',
    '../_base_/resnet_placements.py', '../_base_/acon_no-decay.py'
]
model = dict(backbone=dict(**_base_.acon_c))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys=_base_.acon_no_decay))
