"""The logic of mmdynact's command-line tools.

``tools/train.py`` and ``tools/test.py`` call :func:`mmdynact.cli.train.main`
and :func:`mmdynact.cli.test.main`; what they share is in :mod:`.common` and
:mod:`.toolbox`.
"""
from .common import add_common_arguments, build_runner, load_config, parse_args
from .toolbox import TOOLBOXES, Toolbox, toolbox_of

__all__ = [
    'add_common_arguments', 'build_runner', 'load_config', 'parse_args',
    'TOOLBOXES', 'Toolbox', 'toolbox_of'
]
