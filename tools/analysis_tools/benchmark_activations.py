"""Time and memory of mmdynact's activations against plain PyTorch.

    python tools/analysis_tools/benchmark_activations.py [--device cuda]
        [--dtype bf16] [--shape N C H W] [--layers NAME ...]
        [--forms triton,compiled,eager,plain,relu] [--no-mixed-use]

Forward + backward in training mode, side by side in one run, in the forms
chosen: the layer's kernels in Triton (CUDA), compiled by inductor or eager,
its plain formula (``plain``) and ``nn.ReLU`` (``relu``); by default all
that the device runs. On CUDA with the host time per call next to each
time. See :mod:`mmdynact.analysis.activation_benchmark`.
"""
from mmdynact.cli.benchmark_activations import main

if __name__ == '__main__':
    main()
