# Meta-ACON ResNet-50 on ImageNet-1k: Meta-ACON after the 3x3 conv of every
# block (r=16, no norms in the switching network; the official code has BN
# there: add act_cfg=dict(type='MetaAconC', norm_cfg=dict(type='BN'))).
_base_ = ['./resnet50_acon-c_8xb32_in1k.py']
model = dict(backbone=dict(act_cfg=dict(type='MetaAconC')))
