# configs/frelu/pspnet_r50-d8-frelu_4xb2-80k_cityscapes-512x1024.py on the
# tiny Cityscapes data (data/tiny/cityscapes: 32 train / 8 val street scenes
# of 128x64): a half-width ResNet-18-D8 with FReLU, from scratch, 64x128
# crops, 200 iterations. The norms stay the real config's SyncBN: the tools
# run them as BN in one process, or distributed on CPU.
_base_ = '../frelu/pspnet_r50-d8-frelu_4xb2-80k_cityscapes-512x1024.py'

data_root = 'data/tiny/cityscapes/'
crop_size = (64, 128)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(depth=18, stem_channels=32, base_channels=32, init_cfg=None),
    decode_head=dict(in_channels=256, channels=64),
    auxiliary_head=dict(in_channels=128, channels=32))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=(256, 128),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 64), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
# one worker, re-seeded every epoch: light on 2 cores
loader = dict(num_workers=1, persistent_workers=False)
train_dataloader = dict(
    **loader,
    batch_size=4,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    **loader,
    batch_size=4,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

max_iters = 200
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=1e-4,
        power=0.9,
        begin=0,
        end=max_iters,
        by_epoch=False)
]
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=max_iters // 2))
randomness = dict(seed=0)
