# Baseline for the DY-ReLU keypoint config: mmpose's SimpleBaseline with
# MobileNetV2 1.0 (ReLU6, as upstream and its ImageNet checkpoint), 256x192.
# The head is mmdynact's ActHeatmapHead, which with its default ReLU is
# mmpose's HeatmapHead; the DY-ReLU config changes only the activations.
_base_ = ('mmpose::body_2d_keypoint/topdown_heatmap/coco/'
          'td-hm_mobilenetv2_8xb64-210e_coco-256x192.py')
custom_imports = dict(imports=['mmdynact'], allow_failed_imports=False)

model = dict(head=dict(type='ActHeatmapHead'))
