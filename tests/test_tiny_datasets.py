"""The tiny data sets: deterministic, and read by the toolboxes unchanged."""
import numpy as np
import pytest
import torch
from mmcv import imread

from mmdynact.tiny_datasets import WRITERS, write_tiny_datasets
from mmdynact.tiny_datasets.cityscapes import COLOURS as CITYSCAPES_COLOURS
from mmdynact.tiny_datasets.coco_detection import CLASSES


@pytest.fixture(scope='module')
def tiny(tiny_workspace):  # noqa: F811
    return tiny_workspace / 'data' / 'tiny'


def _files(root):
    return {
        path.relative_to(root): path.read_bytes()
        for path in sorted(root.rglob('*')) if path.is_file()
    }


def test_same_seed_same_files_other_seed_other_files(tiny, tmp_path):
    write_tiny_datasets(tmp_path / 'again', ['coco', 'imagenet'], seed=0)
    write_tiny_datasets(tmp_path / 'other', ['coco'], seed=1)
    again = _files(tmp_path / 'again' / 'coco')
    assert again == _files(tiny / 'coco')
    assert again != _files(tmp_path / 'other' / 'coco')
    assert _files(tmp_path / 'again' / 'imagenet') == _files(tiny / 'imagenet')


def test_unknown_name_is_refused(tmp_path):
    with pytest.raises(ValueError, match='choose from coco'):
        write_tiny_datasets(tmp_path, ['voc'])
    assert set(WRITERS) == {'coco', 'coco_keypoints', 'cityscapes', 'imagenet'}


def test_coco_detection_scores_full_map_for_its_ground_truth(tiny):
    from mmdet.datasets import CocoDataset
    from mmdet.evaluation import CocoMetric
    root = tiny / 'coco'
    dataset = CocoDataset(
        data_root=str(root),
        ann_file='annotations/instances_val2017.json',
        data_prefix=dict(img='val2017/'),
        metainfo=dict(classes=CLASSES),
        test_mode=True,
        pipeline=[])
    assert len(dataset) == 16
    metric = CocoMetric(
        ann_file=str(root / 'annotations/'
                     'instances_val2017.json'))
    metric.dataset_meta = dataset.metainfo
    for info in dataset:
        assert imread(info['img_path']).shape == (128, 128, 3)
        boxes = torch.tensor([i['bbox'] for i in info['instances']])
        labels = torch.tensor([i['bbox_label'] for i in info['instances']])
        assert labels.max() < len(CLASSES)
        metric.process({}, [
            dict(
                img_id=info['img_id'],
                ori_shape=(128, 128),
                pred_instances=dict(
                    bboxes=boxes, scores=torch.ones(len(boxes)),
                    labels=labels))
        ])
    assert metric.evaluate(len(dataset))['coco/bbox_mAP'] == 1.0


def test_coco_keypoints_score_full_ap_for_their_ground_truth(tiny):
    from mmpose.datasets import CocoDataset
    from mmpose.evaluation import CocoMetric
    root = tiny / 'coco_keypoints'
    ann_file = root / 'annotations/person_keypoints_val2017.json'
    dataset = CocoDataset(
        data_root=str(root),
        ann_file='annotations/person_keypoints_val2017.json',
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        pipeline=[])
    assert dataset.metainfo['num_keypoints'] == 17
    metric = CocoMetric(ann_file=str(ann_file))
    metric.dataset_meta = dataset.metainfo
    for info in dataset:
        assert info['keypoints'].shape == (1, 17, 2)
        metric.process({}, [
            dict(
                id=info['id'],
                img_id=info['img_id'],
                category_id=1,
                gt_instances=dict(bbox_scales=info['bbox'][:, 2:] -
                                  info['bbox'][:, :2]),
                pred_instances=dict(
                    keypoints=info['keypoints'],
                    keypoint_scores=np.ones((1, 17))))
        ])
    assert metric.evaluate(len(dataset))['coco/AP'] == pytest.approx(1.0)


def test_cityscapes_labels_are_train_ids_of_the_painted_classes(tiny):
    from mmseg.datasets import CityscapesDataset
    dataset = CityscapesDataset(
        data_root=str(tiny / 'cityscapes'),
        data_prefix=dict(
            img_path='leftImg8bit/train', seg_map_path='gtFine/train'),
        pipeline=[])
    assert len(dataset) == 32
    seen = set()
    for info in dataset:
        label = imread(info['seg_map_path'], flag='unchanged')
        assert label.shape == imread(info['img_path']).shape[:2] == (64, 128)
        seen |= set(np.unique(label).tolist())
    assert seen == set(CITYSCAPES_COLOURS)


def test_imagenet_split_reads_ten_balanced_classes(tiny):
    from mmpretrain.datasets import ImageNet
    for split, per_class in (('train', 8), ('val', 4)):
        dataset = ImageNet(
            data_root=str(tiny / 'imagenet'), split=split, pipeline=[])
        labels = [info['gt_label'] for info in dataset]
        assert np.bincount(labels).tolist() == [per_class] * 10
