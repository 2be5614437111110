# ACON-C ShuffleNetV2 0.5x on ImageNet-1k: ACON-C replaces every ReLU of
# mmpretrain's ShuffleNetV2 (ShuffleNetV2 paper's recipe), weight decay on
# conv and FC weights only, as the official training code.
_base_ = [
    'mmpretrain::shufflenet_v2/shufflenet-v2-1x_16xb64_in1k.py',
    '../_base_/weight-decay.py'
]
custom_imports = dict(imports=['mmdynact'], allow_failed_imports=False)

model = dict(backbone=dict(widen_factor=0.5, act_cfg=dict(type='AconC')))
optim_wrapper = dict(paramwise_cfg=_base_.conv_fc_weight_decay)
