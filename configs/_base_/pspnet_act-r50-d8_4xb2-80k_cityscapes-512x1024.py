# PSPNet R-50-D8 512x1024 80k on Cityscapes (mmseg) with mmdynact's ActResNet.
#
# Stem: V1b (one 7x7 conv), the stem of our ImageNet ResNet-50 configs, so
# their checkpoints load completely (mmseg's 'r50' is V1c; its V1b models
# are called 'r50b'). Dilations (1, 1, 2, 4) with contract_dilation, output
# stride 8, as mmseg's PSPNet.
#
# Norms: mmseg's SyncBN (backbone, decode and auxiliary heads), so that
# tools/dist_train.sh CONFIG 4 normalises over the 4 GPUs' 8 images, as
# mmseg's PSPNet and the papers' runs. In one process (one GPU, or CPU)
# mmengine runs them as BN; on CPU, distributed, mmdynact's tools do too.
_base_ = 'mmseg::pspnet/pspnet_r50-d8_4xb2-80k_cityscapes-512x1024.py'
custom_imports = dict(imports=['mmdynact'], allow_failed_imports=False)

model = dict(
    pretrained=None,
    backbone=dict(
        type='ActResNet',
        init_cfg=dict(type='Pretrained', checkpoint=None, prefix='backbone.')))
