# configs/dyrelu/retinanet_r50-dyrelu-b_fpn_1x_coco.py on the tiny COCO data
# (data/tiny/coco: 48 train / 16 val images of 128 px, 3 shape classes):
# a half-width ResNet-18 with DY-ReLU-B everywhere, trained from scratch on
# CPU in minutes.
_base_ = '../dyrelu/retinanet_r50-dyrelu-b_fpn_1x_coco.py'

data_root = 'data/tiny/coco/'
metainfo = dict(
    classes=('circle', 'square', 'triangle'),
    palette=[(220, 40, 40), (60, 200, 60), (30, 120, 220)])

# From scratch (no ImageNet checkpoint offline): train every stage and let
# batch norm learn its statistics.
model = dict(
    backbone=dict(
        depth=18,
        stem_channels=32,
        base_channels=32,
        frozen_stages=-1,
        norm_eval=False,
        init_cfg=None),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=64),
    bbox_head=dict(
        num_classes=3, in_channels=64, feat_channels=64, stacked_convs=2))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
# one worker, re-seeded every epoch: light on 2 cores, and a resumed run
# sees the same augmentations as an uninterrupted one
loader = dict(batch_size=4, num_workers=1, persistent_workers=False)
train_dataloader = dict(
    **loader,
    dataset=dict(
        data_root=data_root, metainfo=metainfo, pipeline=train_pipeline))
val_dataloader = dict(
    **loader,
    dataset=dict(
        data_root=data_root, metainfo=metainfo, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

max_epochs = 12
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=24),
    dict(
        type='MultiStepLR',
        by_epoch=True,
        milestones=[8, 11],
        begin=0,
        end=max_epochs)
]
default_hooks = dict(
    logger=dict(interval=6), checkpoint=dict(interval=max_epochs // 2))
randomness = dict(seed=0)
auto_scale_lr = dict(base_batch_size=4)
