# Where each paper puts its activation in ResNet: arguments of mmdynact's
# ActResNet (positions: 'stem', 'conv1', 'conv2' = after the 3x3 conv,
# 'add' = after the residual addition; stages 0-3; None = all). Configs use
# them as model = dict(backbone=dict(**_base_.frelu)).

# FReLU (Ma et al., ECCV 2020), as the official code: all three block
# positions of stages 1-3, stage 4 and the stem keep ReLU.
frelu = dict(
    act_cfg=dict(type='FReLU'),
    act_positions=('conv1', 'conv2', 'add'),
    act_stages=(0, 1, 2))
# FReLU only after the 3x3 conv (the partial variant), same stages.
frelu_partial = dict(frelu, act_positions=('conv2', ))
# ACON-C / Meta-ACON (Ma et al., CVPR 2021): after the 3x3 conv of every
# block.
acon_c = dict(
    act_cfg=dict(type='AconC'), act_positions=('conv2', ), act_stages=None)
# Meta-ACON as the official code: batch norms inside the switching network
# G (r=16); with norm_eval=True (detection) they use their running stats.
meta_acon = dict(
    acon_c, act_cfg=dict(type='MetaAconC', r=16, norm_cfg=dict(type='BN')))
# DY-ReLU-B (Chen et al., ECCV 2020): every activation, stem included.
dyrelu_b = dict(
    act_cfg=dict(type='DyReLUB'), act_positions=None, act_stages=None)
