"""The OpenMMLab toolbox a config belongs to, and how its tools differ."""
import importlib
import importlib.util
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

from mmengine.config import Config

from mmdynact.environment import explain_incompatibility
from mmdynact.package_configs import explain_package_config_paths


def _det_show_dir(cfg: Config, show_dir: str) -> None:
    hook = _visualization_hook(cfg)
    hook.update(draw=True, test_out_dir=show_dir)


def _seg_show_dir(cfg: Config, show_dir: str) -> None:
    _visualization_hook(cfg).update(draw=True)
    cfg.visualizer['save_dir'] = show_dir


def _enable_show_dir(cfg: Config, show_dir: str) -> None:
    """mmpretrain's and mmpose's hooks: ``enable`` and ``out_dir``."""
    _visualization_hook(cfg).update(enable=True, out_dir=show_dir, interval=1)


def _visualization_hook(cfg: Config) -> dict:
    hooks = cfg.get('default_hooks') or {}
    if 'visualization' not in hooks:
        raise KeyError(
            '--show-dir needs default_hooks.visualization in the config; add '
            "the toolbox's visualization hook, e.g. default_hooks = dict("
            "visualization=dict(type='DetVisualizationHook'))")
    return hooks['visualization']


@dataclass(frozen=True)
class Toolbox:
    """What the tools need to know about one toolbox.

    Attributes:
        scope: The registry scope, the config's ``default_scope``.
        package: Its Python package.
        install: The command that installs it.
        dump_metric: The metric type that pickles predictions (``--out``).
        show_dir: Sets the config up to paint test results into a folder.
    """
    scope: str
    package: str
    install: str
    dump_metric: str
    show_dir: Callable[[Config, str], None]

    def check_importable(self) -> None:
        """Import its models; raise an ImportError that says what to do.

        A missing toolbox gets the install command; a failure that a known
        incompatibility explains (e.g. transformers 5 breaking mmpretrain
        1.2, and mmdet with it) gets its cause and fix, instead of the
        registry errors mmengine would report later.
        """
        if importlib.util.find_spec(self.package) is None:
            raise ImportError(
                f"The config has default_scope='{self.scope}', but "
                f'{self.package} is not installed: {self.install} '
                '(or run tools/setup_env.sh, which installs all four)')
        models = f'{self.package}.models'
        with explain_incompatibility(f'importing {models}'):
            importlib.import_module(models)


TOOLBOXES: Dict[str, Toolbox] = {
    box.scope: box
    for box in (
        Toolbox('mmdet', 'mmdet', "pip install 'mmdet>=3.3,<3.4'",
                'DumpDetResults', _det_show_dir),
        Toolbox('mmseg', 'mmseg',
                "pip install 'mmsegmentation>=1.2,<1.3' ftfy regex",
                'DumpResults', _seg_show_dir),
        Toolbox('mmpretrain', 'mmpretrain',
                "pip install 'mmpretrain>=1.2,<1.3'", 'DumpResults',
                _enable_show_dir),
        Toolbox(
            'mmpose', 'mmpose', "pip install --no-deps 'mmpose>=1.3,<1.4' && "
            'pip install -r requirements/pose.txt', 'DumpResults',
            _enable_show_dir),
    )
}


def toolbox_of(cfg: Config) -> Toolbox:
    """The toolbox named by ``cfg.default_scope``, checked to be importable."""
    scope = cfg.get('default_scope')
    if scope not in TOOLBOXES:
        choices = ', '.join(repr(name) for name in TOOLBOXES)
        raise ValueError(
            f'{cfg.filename}: default_scope={scope!r} names none of the '
            f'toolboxes mmdynact supports; set default_scope to one of '
            f'{choices} in the config (it chooses the datasets, models and '
            f'metrics)')
    toolbox = TOOLBOXES[scope]
    toolbox.check_importable()
    return toolbox


def load_toolbox_config(
        path: str,
        cfg_options: Optional[dict] = None) -> Tuple[Config, Toolbox]:
    """The config at ``path`` with ``cfg_options`` merged, and its toolbox.

    A failure to read it that a known incompatibility explains (e.g.
    ``_base_ = 'mmdet::...'`` with setuptools >= 82) names the fix, and so
    does ``_base_ = 'mmdynact::...'`` in an editable install.
    """
    with explain_incompatibility(f'loading the config {path}'), \
            explain_package_config_paths(str(path)):
        cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg, toolbox_of(cfg)
