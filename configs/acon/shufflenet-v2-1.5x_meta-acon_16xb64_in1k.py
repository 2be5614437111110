# Meta-ACON ShuffleNetV2 1.5x on ImageNet-1k: r=16, the official code's
# value for every width but 0.5x.
_base_ = './shufflenet-v2-0.5x_meta-acon_16xb64_in1k.py'
model = dict(backbone=dict(widen_factor=1.5, act_cfg=dict(r=16)))
