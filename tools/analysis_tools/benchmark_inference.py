"""Inference latency of mmdynact's activations and of whole models.

    python tools/analysis_tools/benchmark_inference.py [--device cuda]
        [--parts layers models] [--dtype bf16]
        [--layers NAME ...] [--forms compiled,eager,plain,relu]
        [--shape N C H W] [--repeats 40]
        [--configs CONFIG ...] [--baseline CONFIG] [--batch 8]
        [--size H W] [--model-repeats 10] [--json FILE]

Eval mode, forward only, under ``torch.inference_mode()``: each layer in
its device's kernel form (and the forms ``--forms`` adds) against its plain
formula and ``nn.ReLU``; each config's model as built against the same
model running every activation's plain formula and against its ReLU twin.
Best of the timed rounds. See :mod:`mmdynact.analysis.inference_benchmark`.
"""
from mmdynact.cli.benchmark_inference import main

if __name__ == '__main__':
    main()
