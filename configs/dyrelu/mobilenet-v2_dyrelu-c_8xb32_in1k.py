# DY-ReLU-C (R=4) MobileNetV2 1.0 on ImageNet-1k; the spatial attention's
# temperature is annealed from 10 to 1 over the first 10 epochs.
_base_ = './mobilenet-v2_dyrelu-b_8xb32_in1k.py'
model = dict(backbone=dict(act_cfg=dict(type='DyReLUC', reduction=4)))
custom_hooks = [
    dict(type='DyReLUTemperatureHook', start=10.0, end=1.0, anneal=10)
]
