"""Time full training steps of configs' models against a baseline config.

    python tools/analysis_tools/benchmark_train_step.py CONFIG [CONFIG ...] \
        --baseline CONFIG [--batch 32] [--iters 20] [--warmup 5] \
        [--amp bf16|fp16|none] [--device cuda|cpu] [--shape H W] \
        [--json FILE]

Configs of mmpretrain, mmdet, mmseg and mmpose (one toolbox per run, as
they share the synthetic input); see
:mod:`mmdynact.analysis.train_step_benchmark` for what a step is.
"""
from mmdynact.cli.benchmark_train_step import main

if __name__ == '__main__':
    main()
