"""The wheel: configs in the mim layout, the licence, ``mmdynact::`` bases.

The wheel is built as ``python -m build`` builds it, from an sdist, into a
temporary folder (nothing is written into the checkout), installed with
``pip install --target``, and a user's config inherits one of ours from it.
"""
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from mmengine.config import Config

REPO = Path(__file__).resolve().parents[1]
MIM = 'mmdynact/.mim/'
PAPER_CONFIG = 'dyrelu/retinanet_r50-dyrelu-b_fpn_1x_coco.py'


def _run(*command, cwd: Path) -> None:
    proc = subprocess.run([str(c) for c in command],
                          cwd=cwd,
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.fixture(scope='module')
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('dist')
    _run(
        sys.executable,
        'setup.py',
        '-q',
        'egg_info',
        '--egg-base',
        out,
        'sdist',
        '--dist-dir',
        out,
        cwd=REPO)
    sdist, = out.glob('mmdynact-*.tar.gz')
    _run(
        sys.executable,
        '-m',
        'pip',
        'wheel',
        '-q',
        '--no-deps',
        '--no-build-isolation',
        '--disable-pip-version-check',
        '-w',
        out,
        sdist,
        cwd=out)
    wheel, = out.glob('mmdynact-*.whl')
    return wheel


def test_wheel_holds_configs_model_index_and_licence(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        licences = [
            name for name in names
            if '.dist-info/' in name and name.endswith('LICENSE')
        ]
        assert len(licences) == 1
        assert archive.read(licences[0]) == (REPO / 'LICENSE').read_bytes()
    ours = {
        path.relative_to(REPO).as_posix()
        for path in (REPO / 'configs').rglob('*')
        if path.is_file() and '__pycache__' not in path.parts
    }
    shipped = {name[len(MIM):] for name in names if name.startswith(MIM)}
    assert shipped == ours | {'model-index.yml'}
    assert not [
        name for name in names
        if name.split('/')[0] in ('configs', 'tests', 'tools')
    ]


def test_users_config_inherits_ours_from_the_installed_wheel(wheel, tmp_path):
    site = tmp_path / 'site'
    _run(
        sys.executable,
        '-m',
        'pip',
        'install',
        '-q',
        '--no-deps',
        '--disable-pip-version-check',
        '--target',
        site,
        wheel,
        cwd=tmp_path)
    (tmp_path / 'my_detector.py').write_text(
        f"_base_ = 'mmdynact::{PAPER_CONFIG}'\n"
        'model = dict(backbone=dict(depth=18))\n')
    code = ('import json, mmdynact\n'
            'from mmengine.config import Config\n'
            "cfg = Config.fromfile('my_detector.py')\n"
            'print(json.dumps(dict(package=mmdynact.__file__, '
            'backbone=cfg.model.backbone.to_dict(), '
            'scope=cfg.default_scope)))\n')
    proc = subprocess.run([sys.executable, '-c', code],
                          cwd=tmp_path,
                          env={
                              **os.environ, 'PYTHONPATH': str(site)
                          },
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert loaded['package'] == str(site / 'mmdynact' / '__init__.py')
    assert loaded['scope'] == 'mmdet'
    assert loaded['backbone']['type'] == 'ActResNet'
    ours = Config.fromfile(str(REPO / 'configs' / PAPER_CONFIG))
    assert loaded['backbone']['act_cfg'] == ours.model.backbone.act_cfg
    assert loaded['backbone']['depth'] == 18
