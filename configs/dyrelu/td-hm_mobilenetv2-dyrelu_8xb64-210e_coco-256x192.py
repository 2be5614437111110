# DY-ReLU for COCO keypoints, the paper's placement: DY-ReLU-B in the
# MobileNetV2 backbone (initialised from the checkpoint of
# configs/dyrelu/mobilenet-v2_dyrelu-b_8xb32_in1k.py), DY-ReLU-C after each
# deconv + BN of the head, its temperature annealed from 10 to 1 over the
# first 10 epochs. Hyper-function reduction R=4 (our assumption).
_base_ = './td-hm_mobilenetv2-relu_8xb64-210e_coco-256x192.py'

model = dict(
    backbone=dict(
        act_cfg=dict(type='DyReLUB', reduction=4),
        init_cfg=dict(
            checkpoint='work_dirs/mobilenet-v2_dyrelu-b_8xb32_in1k/'
            'epoch_300.pth',
            prefix='backbone.')),
    head=dict(act_cfg=dict(type='DyReLUC', reduction=4)))
custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(type='DyReLUTemperatureHook', start=10.0, end=1.0, anneal=10)
]
