"""Let configs inherit ours: ``_base_ = 'mmdynact::dyrelu/<config>.py'``.

mmengine 0.10 resolves ``<package>::<path>`` in the installed package's
``.mim/configs`` folder (which mmdynact's wheels carry, see ``setup.py``),
but only for the packages in ``mmengine.config.utils.MODULE2PACKAGE``, the
OpenMMLab toolboxes. Importing mmdynact adds it there, so every config
loaded afterwards can name ours: in mmdynact's tools, which import it first,
and in scripts after ``import mmdynact``. A tool that reads the config
before importing mmdynact (mmdet's own ``tools/train.py``) does not know the
name; give it our config's file path instead.
"""
from mmengine.config.utils import MODULE2PACKAGE

#: the name in ``mmdynact::`` -> the distribution that installs it
PACKAGE = 'mmdynact'


def register_package_configs() -> None:
    """Make ``mmdynact::`` config paths resolvable (idempotent)."""
    MODULE2PACKAGE.setdefault(PACKAGE, PACKAGE)
