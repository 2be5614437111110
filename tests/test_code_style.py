"""The code passes the style checks of setup.cfg, as OpenMMLab runs them.

flake8, isort and yapf run on every Python file of the repository, in the
versions pinned in requirements/tests.txt and .pre-commit-config.yaml, and a
failing check shows the tool's own report. ``make format`` applies isort's
and yapf's changes; ``make lint`` runs the same checks as this file.

yapf takes about 12 s of CPU for the whole repository, so the files that it
found formatted are remembered by content hash, together with yapf's version
and setup.cfg's ``[yapf]`` settings, in a per-user file of the temporary
folder: a later run checks only what changed.
"""
import configparser
import getpass
import hashlib
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterable, List

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
#: what the checks cover (the Makefile's STYLE_PATHS)
PATHS = ('mmdynact', 'tools', 'tests', 'configs', 'setup.py')
#: top-level folders that hold no project code (as in .gitignore), besides
#: hidden ones (.git, .venv)
NOT_CODE = {'build', 'dist', 'work_dirs', 'data'}
TOOLS = ('flake8', 'isort', 'yapf')
YAPF_CACHE = Path(tempfile.gettempdir()) / (
    f'mmdynact-yapf-formatted-{getpass.getuser()}.json')


def run_tool(tool: str, *args: str) -> subprocess.CompletedProcess:
    try:
        importlib.metadata.version(tool)
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(f'{tool} is not installed: run `make env` (it installs '
                    'requirements/tests.txt)')
    return subprocess.run([sys.executable, '-m', tool, *args],
                          cwd=REPO,
                          capture_output=True,
                          text=True,
                          timeout=300)


def fail(proc: subprocess.CompletedProcess, fix: str) -> None:
    """Fail with the tool's report (and no traceback, which adds nothing)."""
    pytest.fail(f'{proc.stdout}{proc.stderr}\n{fix}', pytrace=False)


def python_files() -> List[Path]:
    """Every Python file of the repository, checked or not."""
    files = []
    for top in sorted(REPO.iterdir()):
        if (top.name in NOT_CODE or top.name.startswith('.')
                or top.name.endswith('.egg-info')):
            continue
        if top.suffix == '.py':
            files.append(top)
        elif top.is_dir():
            files += [
                p for p in sorted(top.rglob('*.py'))
                if '__pycache__' not in p.parts
            ]
    return files


def checked(path: Path) -> bool:
    return path.relative_to(REPO).parts[0] in PATHS


def test_the_checks_cover_every_python_file():
    uncovered = [
        str(p.relative_to(REPO)) for p in python_files() if not checked(p)
    ]
    assert not uncovered, (
        'add them (or their top folders) to PATHS here and to STYLE_PATHS in '
        f'the Makefile: {uncovered}')


def test_make_lint_checks_the_same_paths():
    makefile = (REPO / 'Makefile').read_text()
    match = re.search(r'^STYLE_PATHS := (.*)$', makefile, re.M)
    assert match, 'the Makefile defines no STYLE_PATHS'
    assert tuple(match.group(1).split()) == PATHS


def test_tool_versions_agree():
    pinned = {}
    for line in (REPO / 'requirements/tests.txt').read_text().splitlines():
        name, _, version = line.split('#')[0].strip().partition('==')
        if name in TOOLS:
            pinned[name] = version
    hooks = yaml.safe_load((REPO / '.pre-commit-config.yaml').read_text())
    revs = {}
    for repo in hooks['repos']:
        for hook in repo['hooks']:
            if hook['id'] in TOOLS:
                revs[hook['id']] = repo['rev'].lstrip('v')
    installed = {tool: importlib.metadata.version(tool) for tool in TOOLS}
    assert pinned == revs, ('requirements/tests.txt and '
                            '.pre-commit-config.yaml pin different versions')
    assert installed == pinned, 'run `make env` to install the pinned tools'


def test_flake8():
    proc = run_tool('flake8', *PATHS)
    if proc.returncode:
        fail(proc, 'Fix these by hand.')


def test_isort():
    proc = run_tool('isort', '--check-only', '--diff', *PATHS)
    if proc.returncode:
        fail(proc, 'Fix: make format')


def yapf_key() -> str:
    """What yapf's result depends on besides a file's content."""
    config = configparser.ConfigParser()
    config.read(REPO / 'setup.cfg')
    settings = sorted(config['yapf'].items())
    return json.dumps([importlib.metadata.version('yapf'), settings])


def digest(path: Path, key: str) -> str:
    return hashlib.sha256(key.encode() + path.read_bytes()).hexdigest()


def read_cache() -> set:
    try:
        return set(json.loads(YAPF_CACHE.read_text()))
    except (OSError, ValueError):  # none yet, or unreadable: check all
        return set()


def write_cache(digests: Iterable[str]) -> None:
    tmp = YAPF_CACHE.with_name(f'{YAPF_CACHE.name}.{os.getpid()}')
    try:
        tmp.write_text(json.dumps(sorted(digests)))
        tmp.replace(YAPF_CACHE)
    except OSError:  # a read-only temporary folder: the next run checks all
        pass


def test_yapf():
    key = yapf_key()
    known = read_cache()
    digests = {
        str(p.relative_to(REPO)): digest(p, key)
        for p in python_files() if checked(p)
    }
    todo = [path for path, d in digests.items() if d not in known]
    if not todo:
        return
    proc = run_tool('yapf', '--diff', '--parallel', *todo)
    # yapf --diff names each file that it would change: '--- PATH\t(original)'
    changed = set(re.findall(r'^--- (.+?)\t\(original\)$', proc.stdout, re.M))
    if proc.returncode not in (0, 1) or (proc.returncode and not changed):
        fail(proc, f'yapf failed (exit {proc.returncode})')
    # only today's files: the cache stays as small as the repository
    write_cache(d for path, d in digests.items() if path not in changed)
    if changed:
        fail(proc, 'Fix: make format')
