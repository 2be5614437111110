# configs/dyrelu/mobilenet-v2_dyrelu-b_8xb32_in1k.py on the tiny
# ImageNet-format data (data/tiny/imagenet: 10 classes, 80 train / 40 val
# images of 64 px): a half-width MobileNetV2 with DY-ReLU-B, from scratch,
# 32 px crops.
_base_ = '../dyrelu/mobilenet-v2_dyrelu-b_8xb32_in1k.py'

data_root = 'data/tiny/imagenet'
num_classes = 10
data_preprocessor = dict(num_classes=num_classes)
model = dict(
    backbone=dict(widen_factor=0.5), head=dict(num_classes=num_classes))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=32,
        crop_ratio_range=(0.5, 1.0),
        backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=36, edge='short', backend='pillow'),
    dict(type='CenterCrop', crop_size=32),
    dict(type='PackInputs'),
]
# one worker, re-seeded every epoch: light on 2 cores, and a resumed run
# sees the same augmentations as an uninterrupted one
loader = dict(batch_size=16, num_workers=1, persistent_workers=False)
train_dataloader = dict(
    **loader, dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    **loader, dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

# the upstream lr (0.045) is for batch 256
optim_wrapper = dict(optimizer=dict(lr=0.01))
train_cfg = dict(max_epochs=8, val_interval=8)
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=1))
randomness = dict(seed=0)
auto_scale_lr = dict(base_batch_size=16)
