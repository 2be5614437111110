# Meta-ACON ResNet-50 on ImageNet-1k: Meta-ACON after the 3x3 conv of every
# block, r=16 with batch norms in the switching network as the official code
# (so converted official checkpoints load; see tools/model_converters).
_base_ = ['./resnet50_acon-c_8xb32_in1k.py']  # includes resnet_placements
model = dict(backbone=dict(act_cfg=_base_.meta_acon['act_cfg']))
