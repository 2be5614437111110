"""Install mmdynact: ``pip install -e .`` (extras: det, seg, cls, pose, all, tests)."""
import os.path as osp

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


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
    long_description=open(osp.join(HERE, 'README.md')).read()
    if osp.exists(osp.join(HERE, 'README.md')) else '',
    long_description_content_type='text/markdown',
    license='Apache License 2.0',
    packages=find_packages(exclude=('configs', 'tools', 'tests')),
    include_package_data=True,
    python_requires='>=3.8',
    install_requires=read_requirements('runtime'),
    extras_require=extras,
    zip_safe=False,
)
