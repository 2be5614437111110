"""The command-line logic of every tool in ``tools/``.

Each ``tools/*.py`` is a thin wrapper that calls a function here (all but
``analysis_tools/benchmark_activations.py``, which has its own):

* ``train.py``, ``test.py``: :mod:`.train`, :mod:`.test` (what they share:
  :mod:`.common`, :mod:`.toolbox`);
* ``demo.py``: :mod:`.demo`;
* ``analysis_tools/get_flops.py``: :mod:`.get_flops`;
* ``analysis_tools/plot_activations.py``: :mod:`.plot_activations`;
* ``deployment/pytorch2onnx.py``: :mod:`.pytorch2onnx`;
* ``dataset_converters/make_tiny_datasets.py``: :mod:`.make_tiny_datasets`;
* ``model_converters/*.py``: :mod:`.convert`.
"""
from .common import add_common_arguments, build_runner, load_config, parse_args
from .toolbox import TOOLBOXES, Toolbox, load_toolbox_config, toolbox_of

__all__ = [
    'add_common_arguments', 'build_runner', 'load_config', 'parse_args',
    'TOOLBOXES', 'Toolbox', 'load_toolbox_config', 'toolbox_of'
]
