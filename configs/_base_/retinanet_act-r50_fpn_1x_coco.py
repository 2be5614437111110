# RetinaNet R-50-FPN 1x (mmdet) on mmdynact's ActResNet. The backbone starts
# from the ImageNet checkpoint of the same backbone (prefix 'backbone.' of an
# mmpretrain classifier checkpoint); each config sets its default path, and
# a missing file fails when the model is built. Override it with
#   --cfg-options model.backbone.init_cfg.checkpoint=<path>
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmdynact'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        type='ActResNet',
        init_cfg=dict(type='Pretrained', checkpoint=None, prefix='backbone.')))
