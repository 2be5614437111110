# FReLU ShuffleNetV2 1.5x on ImageNet-1k.
_base_ = './shufflenet-v2-0.5x_frelu_16xb64_in1k.py'
model = dict(backbone=dict(widen_factor=1.5))
