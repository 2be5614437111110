"""Time and memory of mmdynact's activations against plain PyTorch.

    python tools/analysis_tools/benchmark_activations.py [--device cuda]
        [--dtype bf16] [--shape N C H W] [--layers NAME ...]

Forward + backward in training mode, side by side in one run: the layer in
its device's default form (Triton on CUDA, compiled on CPU), inductor's and
the eager torch form, the plain formula and ``nn.ReLU``; on CUDA with the
host time per call. See :mod:`mmdynact.analysis.activation_benchmark`.
"""
from mmdynact.cli.benchmark_activations import main

if __name__ == '__main__':
    main()
