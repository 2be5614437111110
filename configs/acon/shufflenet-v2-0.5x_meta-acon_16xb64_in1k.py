# Meta-ACON ShuffleNetV2 0.5x on ImageNet-1k: r=8 (the official code's
# value for 0.5x only) with batch norms in the switching network, as the
# official code (converted official checkpoints load; see
# tools/model_converters).
_base_ = './shufflenet-v2-0.5x_acon-c_16xb64_in1k.py'
model = dict(
    backbone=dict(act_cfg=dict(type='MetaAconC', r=8, with_norm=True)))
