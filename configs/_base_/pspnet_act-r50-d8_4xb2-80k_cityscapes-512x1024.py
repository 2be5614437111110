# PSPNet R-50-D8 512x1024 80k on Cityscapes (mmseg) with mmdynact's ActResNet.
#
# Stem: V1b (one 7x7 conv), the stem of our ImageNet ResNet-50 configs, so
# their checkpoints load completely (mmseg's 'r50' is V1c; its V1b models
# are called 'r50b'). Dilations (1, 1, 2, 4) with contract_dilation, output
# stride 8, as mmseg's PSPNet.
#
# Norms: BN, for CPU and single-GPU runs. On a cluster add
#   --cfg-options sync_bn=torch
# and mmengine converts every BatchNorm, those inside the activations
# included, to SyncBatchNorm.
_base_ = 'mmseg::pspnet/pspnet_r50-d8_4xb2-80k_cityscapes-512x1024.py'
custom_imports = dict(imports=['mmdynact'], allow_failed_imports=False)

norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    pretrained=None,
    backbone=dict(
        type='ActResNet',
        norm_cfg=norm_cfg,
        init_cfg=dict(type='Pretrained', checkpoint=None, prefix='backbone.')),
    decode_head=dict(norm_cfg=norm_cfg),
    auxiliary_head=dict(norm_cfg=norm_cfg))
