# Meta-ACON ShuffleNetV2 0.5x on ImageNet-1k (r=16, no norms in the
# switching network).
_base_ = './shufflenet-v2-0.5x_acon-c_16xb64_in1k.py'
model = dict(backbone=dict(act_cfg=dict(type='MetaAconC')))
