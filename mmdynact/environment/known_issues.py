"""Package versions known not to work together with the OpenMMLab stack.

Each :class:`KnownIssue` says which installed versions trigger it, what then
fails, and the fix. ``python -m mmdynact.check_env`` lists them all, marked
for this environment; :func:`explain_incompatibility` turns a failure they
cause into an error that names the cause and the fix.
"""
import contextlib
from dataclasses import dataclass
from importlib import metadata
from typing import Callable, Dict, Iterator, Mapping, Optional, Tuple

from packaging.version import Version

#: distribution name -> installed version, None when not installed
Versions = Mapping[str, Optional[str]]


@dataclass(frozen=True)
class KnownIssue:
    """An incompatibility between installed packages.

    Attributes:
        title: The versions involved, e.g. ``transformers >= 5 with
            mmpretrain 1.2``.
        packages: The distributions involved.
        symptom: What fails, with the error users see.
        fix: The command (or setting) that fixes it.
        affects: Whether the installed versions have the issue.
        caused: Whether an exception is this issue's failure (checked only
            when the versions have the issue).
        handled: How mmdynact's own tools avoid it; empty if they do not.
    """
    title: str
    packages: Tuple[str, ...]
    symptom: str
    fix: str
    affects: Callable[[Versions], bool]
    caused: Callable[[BaseException], bool]
    handled: str = ''

    def installed(self, versions: Versions) -> str:
        """The installed versions of :attr:`packages`, for messages."""
        return ', '.join(f'{name} {versions.get(name) or "not installed"}'
                         for name in self.packages)


def _version(versions: Versions, name: str) -> Optional[Version]:
    version = versions.get(name)
    return None if version is None else Version(version)


def _at_least(versions: Versions, name: str, low: str) -> bool:
    version = _version(versions, name)
    return version is not None and version.release >= Version(low).release


def _below(versions: Versions, name: str, high: str) -> bool:
    version = _version(versions, name)
    return version is not None and version.release < Version(high).release


def _traceback_files(exc: BaseException) -> Iterator[str]:
    """The files of every frame of ``exc`` and of the exceptions behind it."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        tb = exc.__traceback__
        while tb is not None:
            yield tb.tb_frame.f_code.co_filename.replace('\\', '/')
            tb = tb.tb_next
        exc = exc.__cause__ or exc.__context__


def _raised_in(exc: BaseException, path: str) -> bool:
    return any(path in filename for filename in _traceback_files(exc))


TRANSFORMERS_5 = KnownIssue(
    title='transformers >= 5 with mmpretrain 1.2',
    packages=('transformers', 'mmpretrain'),
    symptom='mmpretrain 1.2 imports its BLIP models from transformers when '
    'transformers >= 4.28 is installed, and transformers 5 no longer has '
    "the names they subclass: 'import mmpretrain.models' fails with "
    "'TypeError: NoneType takes no arguments' "
    '(mmpretrain/models/multimodal/blip/language_model.py). mmdet imports '
    'mmpretrain and fails too; mmengine may report it as '
    "'UniversalVisualizer is not in the registry'.",
    fix='pip install "transformers<5" (or pip uninstall transformers if '
    'nothing else needs it)',
    affects=lambda v:
    (_at_least(v, 'transformers', '5') and _below(v, 'mmpretrain', '1.3')),
    caused=lambda exc: _raised_in(exc, 'mmpretrain/models/multimodal/'))

NUMPY_2_XTCOCOTOOLS = KnownIssue(
    title='numpy >= 2 with xtcocotools, for mmpose',
    packages=('numpy', 'xtcocotools'),
    symptom="xtcocotools' wheels are built against numpy 1: with numpy 2, "
    "'import mmpose.models' fails with 'ValueError: numpy.dtype size "
    "changed, may indicate binary incompatibility'.",
    fix='pip install "numpy<2"',
    affects=lambda v:
    (_at_least(v, 'numpy', '2') and v.get('xtcocotools') is not None),
    caused=lambda exc: _raised_in(exc, 'xtcocotools'))

SETUPTOOLS_82 = KnownIssue(
    title='setuptools >= 82, without pkg_resources',
    packages=('setuptools', ),
    symptom='mmengine 0.10.7 finds the configs of installed packages with '
    "pkg_resources, so _base_ = 'mmdet::...' fails with "
    "\"No module named 'pkg_resources'\", and mmcv 2.1.0's setup.py cannot "
    'build.',
    fix='pip install "setuptools<82"',
    affects=lambda v: _at_least(v, 'setuptools', '82'),
    caused=lambda exc:
    (isinstance(exc, ModuleNotFoundError) and exc.name == 'pkg_resources'))

TORCH_WEIGHTS_ONLY = KnownIssue(
    title='torch >= 2.6 with mmengine < 0.11: weights_only loading',
    packages=('torch', 'mmengine'),
    symptom='torch.load defaults to weights_only=True, which refuses the '
    "message hub in the checkpoints mmengine's runner writes: "
    'load_checkpoint, init_detector, init_model, load_from and resume fail '
    "with 'Weights only load failed'.",
    fix='in your own scripts, for checkpoints you trust: set '
    'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1, or call '
    'mmdynact.engine.compat.trust_local_checkpoints() first',
    affects=lambda v:
    (_at_least(v, 'torch', '2.6') and _below(v, 'mmengine', '0.11')),
    caused=lambda exc: 'Weights only load failed' in str(exc),
    handled="mmdynact's tools load the local checkpoints you name in full")

KNOWN_ISSUES: Tuple[KnownIssue, ...] = (TRANSFORMERS_5, NUMPY_2_XTCOCOTOOLS,
                                        SETUPTOOLS_82, TORCH_WEIGHTS_ONLY)
#: the distributions whose versions the issues depend on
DISTRIBUTIONS = ('torch', 'numpy', 'setuptools', 'mmengine', 'mmpretrain',
                 'transformers', 'xtcocotools')


def installed_versions(
        names: Tuple[str, ...] = DISTRIBUTIONS) -> Dict[str, Optional[str]]:
    """The installed version of each distribution, None if not installed."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def issue_behind(exc: BaseException,
                 versions: Optional[Versions] = None) -> Optional[KnownIssue]:
    """The known issue that caused ``exc`` in this environment, if any."""
    versions = installed_versions() if versions is None else versions
    for issue in KNOWN_ISSUES:
        if issue.affects(versions) and issue.caused(exc):
            return issue
    return None


class IncompatibleEnvironment(ImportError):
    """A failure caused by a :class:`KnownIssue`; the message has the fix."""


@contextlib.contextmanager
def explain_incompatibility(action: str) -> Iterator[None]:
    """Re-raise a failure of ``action`` that a known issue explains.

    Other failures pass through unchanged.

    Args:
        action: What is being done, e.g. ``'importing mmpretrain.models'``.

    Raises:
        IncompatibleEnvironment: Naming the cause and the fix, with the
            original failure as its ``__cause__``.
    """
    try:
        yield
    except Exception as exc:
        versions = installed_versions()
        issue = issue_behind(exc, versions)
        if issue is None:
            raise
        raise IncompatibleEnvironment(
            f'{action} failed because of {issue.title} '
            f'({issue.installed(versions)} installed). {issue.symptom}\n'
            f'Fix: {issue.fix}') from exc
