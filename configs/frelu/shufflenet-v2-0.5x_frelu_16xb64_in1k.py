# FReLU ShuffleNetV2 0.5x on ImageNet-1k: FReLU replaces every ReLU of
# mmpretrain's ShuffleNetV2 (after the stem 3x3 conv, after the 1x1 convs of
# the blocks and after conv_last); its recipe is the ShuffleNetV2 paper's
# (batch 1024, lr 0.5 linear decay, wd 4e-5), which the FReLU paper follows
# for light-weight models, with weight decay on conv and FC weights only as
# the official training code.
_base_ = [
    'mmpretrain::shufflenet_v2/shufflenet-v2-1x_16xb64_in1k.py',
    '../_base_/weight-decay.py'
]
custom_imports = dict(imports=['mmdynact'], allow_failed_imports=False)

model = dict(backbone=dict(widen_factor=0.5, act_cfg=dict(type='FReLU')))
optim_wrapper = dict(paramwise_cfg=_base_.conv_fc_weight_decay)
