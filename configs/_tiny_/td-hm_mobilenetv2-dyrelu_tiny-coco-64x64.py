# configs/dyrelu/td-hm_mobilenetv2-dyrelu_8xb64-210e_coco-256x192.py on the
# tiny COCO keypoint data (data/tiny/coco_keypoints: stick figures in 48
# train / 16 val images of 128 px): a half-width DY-ReLU-B MobileNetV2 and a
# narrow DY-ReLU-C head, from scratch, 64x64 person crops (the backbone's
# stride, 32, must divide them), ground-truth boxes.
_base_ = '../dyrelu/td-hm_mobilenetv2-dyrelu_8xb64-210e_coco-256x192.py'

data_root = 'data/tiny/coco_keypoints/'
codec = dict(
    type='MSRAHeatmap', input_size=(64, 64), heatmap_size=(16, 16), sigma=1)
model = dict(
    backbone=dict(widen_factor=0.5, init_cfg=None),
    head=dict(deconv_out_channels=(64, 64, 64), decoder=codec))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(type='RandomBBoxTransform'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs')
]
# one worker, re-seeded every epoch: light on 2 cores
loader = dict(batch_size=16, num_workers=1, persistent_workers=False)
train_dataloader = dict(
    **loader, dataset=dict(data_root=data_root, pipeline=train_pipeline))
# bbox_file=None: test on the ground-truth person boxes
val_dataloader = dict(
    **loader,
    dataset=dict(data_root=data_root, bbox_file=None, pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root +
                     'annotations/person_keypoints_val2017.json')
test_evaluator = val_evaluator

max_epochs = 20
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=10, start_factor=0.1, by_epoch=False),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        milestones=[max_epochs - 4],
        by_epoch=True)
]
default_hooks = dict(
    logger=dict(interval=3), checkpoint=dict(interval=max_epochs // 2))
randomness = dict(seed=0)
auto_scale_lr = dict(base_batch_size=16)
