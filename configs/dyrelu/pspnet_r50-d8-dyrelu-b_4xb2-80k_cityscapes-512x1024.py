# PSPNet R-50-D8 with the DY-ReLU-B ResNet-50, initialised from the
# checkpoint of configs/dyrelu/resnet50_dyrelu-b_8xb32_in1k.py.
_base_ = [
    '../_base_/pspnet_act-r50-d8_4xb2-80k_cityscapes-512x1024.py',
    '../_base_/resnet_placements.py'
]
model = dict(
    backbone=dict(
        **_base_.dyrelu_b,
        init_cfg=dict(checkpoint='work_dirs/resnet50_dyrelu-b_8xb32_in1k/'
                      'epoch_120.pth')))
