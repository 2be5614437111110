"""mmdynact: DY-ReLU, FReLU and ACON for the OpenMMLab 2.0 toolboxes.

Importing it registers the activations (``DyReLUA/B/C``, ``FReLU``,
``AconA/B/C``, ``MetaAconC``) in mmengine's root ``MODELS`` registry, the
hooks in ``HOOKS``, lets mmcv's ``ConvModule`` pass channel counts to them,
and lets configs inherit ours as ``mmdynact::<folder>/<config>.py``. It
imports none of the downstream toolboxes.
"""
import mmcv
import mmengine
from mmengine.utils import digit_version

from .version import __version__, version_info

MMCV_RANGE = ('2.0.0', '2.2.0')
MMENGINE_RANGE = ('0.10.0', '0.11.0')


def _check_version(package, supported: tuple) -> None:
    low, high = supported
    version = digit_version(package.__version__)
    if not digit_version(low) <= version < digit_version(high):
        raise ImportError(
            f'mmdynact {__version__} supports '
            f'{package.__name__}>={low},<{high}, but '
            f'{package.__name__}=={package.__version__} is installed. '
            f"Install a supported one, e.g. pip install '{package.__name__}"
            f'>={low},<{high}\'.')


_check_version(mmcv, MMCV_RANGE)
_check_version(mmengine, MMENGINE_RANGE)

from .engine import *  # noqa: F401,F403,E402
from .models import *  # noqa: F401,F403,E402
from .package_configs import register_package_configs  # noqa: E402

register_package_configs()

__all__ = ['__version__', 'version_info']
