"""Every tool in tools/ is a thin wrapper around mmdynact.cli."""
import ast
import runpy
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WRAPPERS = sorted((REPO / 'tools').rglob('*.py'))


def _tool_id(path: Path) -> str:
    return path.relative_to(REPO / 'tools').as_posix()


def _imported_modules(tree: ast.Module):
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


@pytest.mark.parametrize('path', WRAPPERS, ids=_tool_id)
def test_tool_only_calls_mmdynact_cli(path):
    tree = ast.parse(path.read_text())
    docstring, *body = tree.body
    assert isinstance(docstring, ast.Expr) and ast.get_docstring(tree)
    assert not [
        node for node in body
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Assign))
    ], f'{_tool_id(path)} defines logic; move it to mmdynact/cli'
    modules = set(_imported_modules(tree))
    assert {m for m in modules if m.startswith('mmdynact.cli.')}, modules
    assert modules <= {m
                       for m in modules
                       if m.startswith('mmdynact.cli.')} | {'pathlib'}
    main_guard = body[-1]
    assert isinstance(main_guard, ast.If)
    assert ast.unparse(main_guard.test) == "__name__ == '__main__'"


@pytest.mark.parametrize('path', WRAPPERS, ids=_tool_id)
def test_tool_help_comes_from_its_cli_parser(path, monkeypatch, capsys):
    monkeypatch.setattr(sys, 'argv', [str(path), '--help'])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(path), run_name='__main__')
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f'usage: {path.name}')
    assert 'options:' in out
