# DY-ReLU-B MobileNetV2 1.0 on ImageNet-1k: DY-ReLU-B (hyper-function
# reduction R=4, our assumption) replaces every ReLU6 of mmpretrain's
# MobileNetV2 (upstream recipe: 300 epochs, batch 256).
_base_ = 'mmpretrain::mobilenet_v2/mobilenet-v2_8xb32_in1k.py'
custom_imports = dict(imports=['mmdynact'], allow_failed_imports=False)

model = dict(backbone=dict(act_cfg=dict(type='DyReLUB', reduction=4)))
