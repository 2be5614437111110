# ResNet-50 on ImageNet-1k with mmdynact's ActResNet (ReLU everywhere unless
# a config places another activation) and the ResNet recipe of the official
# FReLU and ACON code: batch 256, 600k iterations (= 120 epochs), lr 0.1
# decayed linearly to 0, weight decay 1e-4 on conv and FC weights only.
# The ResNet itself is mmpretrain's (style='pytorch'); each paper's config
# sets its own (../_base_/resnet_placements.py). Runnable as is.
_base_ = ['mmpretrain::resnet/resnet50_8xb32_in1k.py', './weight-decay.py']
custom_imports = dict(imports=['mmdynact'], allow_failed_imports=False)

model = dict(backbone=dict(type='ActResNet'))

optim_wrapper = dict(paramwise_cfg=_base_.conv_fc_weight_decay)
train_cfg = dict(max_epochs=120)
param_scheduler = dict(
    _delete_=True,
    type='PolyLR',
    power=1.0,
    eta_min=0.0,
    by_epoch=True,
    convert_to_iter_based=True,
    begin=0,
    end=120)
