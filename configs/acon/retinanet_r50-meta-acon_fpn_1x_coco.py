# RetinaNet R-50-FPN 1x with the Meta-ACON ResNet-50 (the official code's
# network), initialised from the checkpoint of
# configs/acon/resnet50_meta-acon_8xb32_in1k.py; mmdet's recipe, p1, p2
# without weight decay.
_base_ = [
    '../_base_/retinanet_act-r50_fpn_1x_coco.py',
    '../_base_/resnet_placements.py', '../_base_/weight-decay.py'
]
model = dict(
    backbone=dict(
        **_base_.meta_acon,
        init_cfg=dict(checkpoint='work_dirs/resnet50_meta-acon_8xb32_in1k/'
                      'epoch_120.pth')))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys=_base_.acon_no_decay))
