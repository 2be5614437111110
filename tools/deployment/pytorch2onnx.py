"""Export a trained model of any of the toolboxes to ONNX.

    python tools/deployment/pytorch2onnx.py CONFIG CHECKPOINT --out FILE
        [--shape H W] [--dynamic] [--opset N] [--dynamo] [--verify]
        [--input IMAGE] [--seed 0] [--rtol 1e-4] [--cfg-options KEY=VALUE ...]

The graph runs the model's raw forward (``mode='tensor'``): the normalized
image batch in, the network's raw outputs out (detector: per-level class
scores and box regressions; segmentor: logits; classifier: scores before
softmax; pose: heatmaps). Post-processing stays in Python. ``--verify``
compares onnxruntime's outputs with PyTorch's and exits with 1 beyond
``--rtol``. The logic is in :mod:`mmdynact.cli.pytorch2onnx`.
"""
from mmdynact.cli.pytorch2onnx import main

if __name__ == '__main__':
    main()
