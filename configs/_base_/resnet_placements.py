# Each paper's ResNet, as arguments of mmdynact's ActResNet: the network
# (stride placement, init) and where the activation goes (positions:
# 'stem', 'conv1', 'conv2' = after the 3x3 conv, 'add' = after the residual
# addition; stages 0-3; None = all). ImageNet and downstream configs use the
# same dict, model = dict(backbone=dict(**_base_.frelu)), so a detector's
# backbone is the network its ImageNet checkpoint was trained as.

# The ResNet of the official FReLU and ACON code (megvii-model/FunnelAct
# resnet/resnet.py; nmaac/acon ResNet_ACON, ResNet_MetaACON): the original
# ResNet, whose bottleneck strides in its first 1x1 conv (mmpretrain's
# style='caffe'; ResNet-50: 3.88 GFLOPs at 224x224 instead of 4.11), and no
# zero-initialised last norm in the blocks (zero_init_residual=False).
megvii_resnet = dict(style='caffe', zero_init_residual=False)
# The official FReLU ResNets (FunnelAct resnet/resnet.py, its ReLU ResNet
# included) drop 20% of the pooled features before the classifier; the
# official ACON ResNets do not.
funnelact_head = dict(type='DropoutLinearClsHead', dropout=0.2)

# FReLU (Ma et al., ECCV 2020), as the official code: all three block
# positions of stages 1-3, stage 4 and the stem keep ReLU.
frelu = dict(
    megvii_resnet,
    act_cfg=dict(type='FReLU'),
    act_positions=('conv1', 'conv2', 'add'),
    act_stages=(0, 1, 2))
# FReLU only after the 3x3 conv (the partial variant), same stages.
frelu_partial = dict(frelu, act_positions=('conv2', ))
# ACON-C / Meta-ACON (Ma et al., CVPR 2021): after the 3x3 conv of every
# block.
acon_c = dict(
    megvii_resnet,
    act_cfg=dict(type='AconC'),
    act_positions=('conv2', ),
    act_stages=None)
# Meta-ACON as the official code: norms inside the switching network G
# (r=16), of the backbone's norm_cfg (BN, or SyncBN on a cluster); with
# norm_eval=True (detection) they use their running stats.
meta_acon = dict(acon_c, act_cfg=dict(type='MetaAconC', r=16, with_norm=True))

# DY-ReLU-B (Chen et al., ECCV 2020): every activation, stem included. No
# official ResNet code: mmpretrain's ResNet as is (style='pytorch', the
# stride on the 3x3 conv; zero-initialised last norms). The hyper-function
# reduction R=4 is our assumption (see ../dyrelu/README.md).
dyrelu_b = dict(
    style='pytorch',
    zero_init_residual=True,
    act_cfg=dict(type='DyReLUB', reduction=4),
    act_positions=None,
    act_stages=None)
