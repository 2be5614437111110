"""The pkg_resources deprecation warning (raised through mmengine's imports)
is filtered in the tools and in pytest, and no other warning is."""
import subprocess
import sys
import textwrap

from tests.tiny_workspace import CLS_CONFIG, REPO, tool_env

DEPRECATION = 'pkg_resources is deprecated as an API'


def test_tools_filter_the_pkg_resources_warning_only():
    # what tools/train.py imports, then a config with an mmpretrain:: base
    # (mmengine imports pkg_resources to find it)
    code = textwrap.dedent(f'''
        import warnings
        import mmdynact.cli.train
        from mmengine.config import Config
        Config.fromfile({str(CLS_CONFIG)!r})
        warnings.warn('another warning', UserWarning)
        ''')
    result = subprocess.run([sys.executable, '-c', code],
                            cwd=REPO,
                            env=tool_env(),
                            capture_output=True,
                            text=True,
                            check=True)
    assert DEPRECATION not in result.stderr
    assert 'UserWarning: another warning' in result.stderr


def test_pytest_filters_the_pkg_resources_warning_only(tmp_path):
    (tmp_path / 'test_imports.py').write_text(
        textwrap.dedent('''
        import importlib
        import warnings

        import pkg_resources


        def test_reimport():
            importlib.reload(pkg_resources)  # as mmengine does


        def test_another():
            warnings.warn('another warning', UserWarning)
        '''))
    result = subprocess.run([
        sys.executable, '-m', 'pytest', '-c',
        str(REPO / 'pytest.ini'), '--rootdir',
        str(tmp_path),
        str(tmp_path / 'test_imports.py')
    ],
                            cwd=tmp_path,
                            capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout
    assert '2 passed, 1 warning' in result.stdout
    assert 'another warning' in result.stdout
    assert DEPRECATION not in result.stdout
