# RetinaNet R-50-FPN 1x with the FReLU ResNet-50, initialised from the
# checkpoint of configs/frelu/resnet50_frelu_8xb32_in1k.py.
_base_ = [
    '../_base_/retinanet_act-r50_fpn_1x_coco.py',
    '../_base_/resnet_placements.py'
]
model = dict(
    backbone=dict(
        **_base_.frelu,
        init_cfg=dict(
            checkpoint='work_dirs/resnet50_frelu_8xb32_in1k/epoch_120.pth')))
