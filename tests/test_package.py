import subprocess
import sys
from pathlib import Path

import pytest

import mmdynact

REPO = Path(__file__).resolve().parents[1]


def test_our_tests_package_wins_over_mmseg():
    import tests
    assert Path(tests.__file__).resolve().parent == REPO / 'tests'


def test_version():
    assert mmdynact.__version__.count('.') == 2
    assert mmdynact.version_info[:2] == tuple(
        int(v) for v in mmdynact.__version__.split('.')[:2])


def test_import_loads_no_toolbox():
    code = ('import sys, mmdynact; '
            'print(sorted(m for m in sys.modules if m.split(".")[0] in '
            '("mmdet", "mmseg", "mmpretrain", "mmpose")))')
    out = subprocess.run([sys.executable, '-c', code],
                         capture_output=True,
                         text=True,
                         check=True,
                         cwd=REPO).stdout
    assert out.strip() == '[]'


def test_version_check_names_supported_range(monkeypatch):
    import mmcv
    monkeypatch.setattr(mmcv, '__version__', '2.2.0')
    with pytest.raises(ImportError, match=r'mmcv>=2\.0\.0,<2\.2\.0'):
        mmdynact._check_version(mmcv, mmdynact.MMCV_RANGE)
