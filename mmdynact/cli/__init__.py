"""The command-line logic of every tool in ``tools/``.

Each ``tools/*.py`` is a thin wrapper that calls a function here:

* ``train.py``, ``test.py``: :mod:`.train`, :mod:`.test` (what they share:
  :mod:`.common`, :mod:`.toolbox`);
* ``demo.py``: :mod:`.demo`;
* ``analysis_tools/get_flops.py``: :mod:`.get_flops`;
* ``analysis_tools/plot_activations.py``: :mod:`.plot_activations`;
* ``analysis_tools/benchmark_activations.py``: :mod:`.benchmark_activations`
  (each layer in the forms ``--forms`` chooses, against its plain formula
  and ReLU; the measuring in :mod:`mmdynact.analysis.activation_benchmark`);
* ``analysis_tools/benchmark_train_step.py``: :mod:`.benchmark_train_step`
  (full training steps of configs against a baseline config; the measuring
  in :mod:`mmdynact.analysis.train_step_benchmark`);
* ``analysis_tools/benchmark_inference.py``: :mod:`.benchmark_inference`
  (inference latency of each layer against its plain formula and ReLU, and
  of configs' models against their formula and ReLU variants; the
  measuring in :mod:`mmdynact.analysis.inference_benchmark`);
* ``deployment/pytorch2onnx.py``: :mod:`.pytorch2onnx`;
* ``dataset_converters/make_tiny_datasets.py``: :mod:`.make_tiny_datasets`;
* ``model_converters/*.py``: :mod:`.convert`.

``train.py --resume`` finds its checkpoint with :mod:`.resume`. Importing
this package filters setuptools' ``pkg_resources`` deprecation warning
(:mod:`.warning_filters`), before any tool loads a config.
"""
from .common import add_common_arguments, build_runner, load_config, parse_args
from .toolbox import TOOLBOXES, Toolbox, load_toolbox_config, toolbox_of
from .warning_filters import ignore_pkg_resources_deprecation

ignore_pkg_resources_deprecation()

__all__ = [
    'add_common_arguments', 'build_runner', 'load_config', 'parse_args',
    'TOOLBOXES', 'Toolbox', 'load_toolbox_config', 'toolbox_of'
]
