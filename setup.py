"""Install mmdynact: ``pip install -e .``.

Extras: det, seg, cls, pose, all, tests.

Wheels and non-editable installs also carry the configs and the model
index, as ``mmdynact/.mim/configs`` and ``mmdynact/.mim/model-index.yml``
(the layout of mim and of mmdet/mmpretrain), so that a config can inherit
ours with ``_base_ = 'mmdynact::dyrelu/...'`` (after ``import mmdynact``).
"""
import os.path as osp
import shutil
from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = osp.dirname(osp.abspath(__file__))
#: shipped in the package as ``mmdynact/.mim/<name>`` (mmengine reads
#: ``.mim/model-index.yml`` to resolve any ``mmdynact::`` path)
MIM_CONFIGS = 'configs'
MIM_INDEX = 'model-index.yml'


def read_version() -> str:
    namespace: dict = {}
    with open(osp.join(HERE, 'mmdynact', 'version.py')) as f:
        exec(f.read(), namespace)
    return namespace['__version__']


def read_requirements(name: str) -> list:
    """Requirement lines of ``requirements/<name>.txt``, comments dropped."""
    with open(osp.join(HERE, 'requirements', f'{name}.txt')) as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line]


class BuildPyWithMim(build_py):
    """``build_py`` that also puts the configs and model index into ``.mim``.

    The copy is made at build time, into the build folder only: the
    repository keeps one ``configs/``. Editable installs get none, as
    mmengine looks for ``.mim`` next to the installed package, which an
    editable install does not have; they use the config paths directly.
    """

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        mim = osp.join(self.build_lib, 'mmdynact', '.mim')
        if osp.exists(mim):
            shutil.rmtree(mim)
        shutil.copytree(
            osp.join(HERE, MIM_CONFIGS),
            osp.join(mim, MIM_CONFIGS),
            ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        shutil.copyfile(osp.join(HERE, MIM_INDEX), osp.join(mim, MIM_INDEX))


extras = {
    'det': read_requirements('det'),
    'seg': read_requirements('seg'),
    'cls': read_requirements('cls'),
    # mmpose itself must be installed with --no-deps (it lists the broken
    # 'chumpy'); these are its real dependencies.
    'pose': read_requirements('pose'),
    'tests': read_requirements('tests'),
}
extras['all'] = sorted({req for reqs in extras.values() for req in reqs})

setup(
    name='mmdynact',
    version=read_version(),
    description='Dynamic and learned activations (DY-ReLU, FReLU, ACON) '
    'for the OpenMMLab 2.0 toolboxes',
    long_description=open(osp.join(HERE, 'README.md')).read() if osp.exists(
        osp.join(HERE, 'README.md')) else '',
    long_description_content_type='text/markdown',
    license='Apache License 2.0',
    packages=find_packages(exclude=('configs', 'tools', 'tests')),
    include_package_data=True,
    python_requires='>=3.8',
    install_requires=read_requirements('runtime'),
    extras_require=extras,
    zip_safe=False,
    cmdclass={'build_py': BuildPyWithMim},
)
