"""Plot what the DY-ReLU / ACON / FReLU layers of a trained model learned.

    python tools/analysis_tools/plot_activations.py CONFIG CHECKPOINT
        [--images IMG ...] [--num-images 4] [--image-size H W]
        [--layers REGEX] [--out-dir DIR] [--device cpu] [--backend eager]
        [--cfg-options KEY=VALUE ...]

Runs the model on the first images of the config's test data set (through
its test pipeline) or on the given images, and writes into DIR (default
``work_dirs/activations/<config name>``), per layer family present:
``<kind>_curves.png`` (input -> output curves, one subplot per layer),
``<kind>_spread.png`` (DY-ReLU slopes ``a_k``, Meta-ACON / ACON ``beta``,
FReLU's per-channel share of positions where the funnel wins), and
``summary.txt`` / ``summary.json`` with the numbers per layer. The logic
is in :mod:`mmdynact.cli.plot_activations`.
"""
from mmdynact.cli.plot_activations import main

if __name__ == '__main__':
    main()
