# DY-ReLU-B ResNet-50 with hyper-function reduction R=8 instead of 4: half
# the hidden units at every DY-ReLU, for comparison with R=4.
_base_ = './resnet50_dyrelu-b_8xb32_in1k.py'
model = dict(backbone=dict(act_cfg=dict(reduction=8)))
