"""Parameters and FLOPs of a config's model, and the overhead vs ReLU.

Counts mmdynact's activation layers (see mmdynact.analysis.complexity) and
compares with the same model whose mmdynact activations are ReLU::

    python tools/analysis_tools/get_flops.py \
        configs/frelu/resnet50_frelu_8xb32_in1k.py --shape 224 224

The logic is in :mod:`mmdynact.cli.get_flops`.
"""
from mmdynact.cli.get_flops import main

if __name__ == '__main__':
    main()
