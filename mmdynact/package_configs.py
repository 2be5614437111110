"""Let configs inherit ours: ``_base_ = 'mmdynact::dyrelu/<config>.py'``.

mmengine 0.10 resolves ``<package>::<path>`` in the installed package's
``.mim/configs`` folder (which mmdynact's wheels carry, see ``setup.py``),
but only for the packages in ``mmengine.config.utils.MODULE2PACKAGE``, the
OpenMMLab toolboxes. Importing mmdynact adds it there, so every config
loaded afterwards can name ours: in mmdynact's tools, which import it first,
and in scripts after ``import mmdynact``. A tool that reads the config
before importing mmdynact (mmdet's own ``tools/train.py``) does not know the
name; give it our config's file path instead.

An editable install (``pip install -e .``) has no ``.mim`` folder: mmengine
looks for it next to the installed distribution, in site-packages, where an
editable install puts no package. There ``mmdynact::`` cannot work, and
:func:`explain_package_config_paths` says to use the config's path.
"""
import contextlib
import os.path as osp
import re
from typing import Iterator

from mmengine.config.utils import MODULE2PACKAGE

#: the name in ``mmdynact::`` -> the distribution that installs it
PACKAGE = 'mmdynact'
#: where mmengine looked for our configs, in its error message
MIM_FOLDER = re.compile(r'''([^\s'"]*\bmmdynact[/\\]\.mim)\b''')
#: this checkout's configs (an editable install or a source tree)
SOURCE_CONFIGS = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs')
EXAMPLE = 'dyrelu/retinanet_r50-dyrelu-b_fpn_1x_coco.py'


def register_package_configs() -> None:
    """Make ``mmdynact::`` config paths resolvable (idempotent)."""
    MODULE2PACKAGE.setdefault(PACKAGE, PACKAGE)


@contextlib.contextmanager
def explain_package_config_paths(config: str) -> Iterator[None]:
    """Re-raise a failure to find ``mmdynact::`` configs with what to do.

    Args:
        config: The config file being loaded, for the message.

    Raises:
        FileNotFoundError: If loading ``config`` failed because there is no
            ``mmdynact/.mim`` folder, saying to inherit by path.
    """
    try:
        yield
    except FileNotFoundError as exc:
        looked_in = MIM_FOLDER.search(str(exc))
        if looked_in is None:
            raise
        configs = (
            SOURCE_CONFIGS if osp.isdir(SOURCE_CONFIGS) else
            '<the mmdynact repository>/configs')
        raise FileNotFoundError(
            f"{config}: _base_ = 'mmdynact::...' cannot be resolved: "
            f'mmengine looks for our configs in {looked_in.group(1)}, which '
            'this mmdynact does not have (an editable install, pip install '
            "-e, or a source checkout; wheels and 'pip install .' carry "
            'it). Inherit our config by its path instead, relative to your '
            f"config or absolute: for 'mmdynact::{EXAMPLE}' write _base_ = "
            f"'{osp.join(configs, EXAMPLE)}'") from exc
