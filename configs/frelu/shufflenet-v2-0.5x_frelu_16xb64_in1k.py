# FReLU ShuffleNetV2 0.5x on ImageNet-1k: FReLU replaces every ReLU (all
# follow 1x1 convs) of mmpretrain's ShuffleNetV2; its recipe is the
# ShuffleNetV2 paper's (batch 1024, lr 0.5 linear decay, wd 4e-5, no wd on
# BN), which the FReLU paper follows for light-weight models.
_base_ = 'mmpretrain::shufflenet_v2/shufflenet-v2-1x_16xb64_in1k.py'
custom_imports = dict(imports=['mmdynact'], allow_failed_imports=False)

model = dict(backbone=dict(widen_factor=0.5, act_cfg=dict(type='FReLU')))
