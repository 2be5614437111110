# PSPNet R-50-D8 with the Meta-ACON ResNet-50 (the official code's network),
# initialised from the checkpoint of
# configs/acon/resnet50_meta-acon_8xb32_in1k.py; mmseg's recipe, p1, p2
# without weight decay.
_base_ = [
    '../_base_/pspnet_act-r50-d8_4xb2-80k_cityscapes-512x1024.py',
    '../_base_/resnet_placements.py', '../_base_/weight-decay.py'
]
model = dict(
    backbone=dict(
        **_base_.meta_acon,
        init_cfg=dict(checkpoint='work_dirs/resnet50_meta-acon_8xb32_in1k/'
                      'epoch_120.pth')))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys=_base_.acon_no_decay))
