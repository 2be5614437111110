"""Warnings the tools leave out, each by its message (nothing else).

setuptools 81 warns ``pkg_resources is deprecated as an API`` whenever
``pkg_resources`` is imported, and mmengine 0.10.7 imports (and reloads) it
each time it resolves an installed package, e.g. for ``_base_ =
'mmdet::...'``: several times per tool run, from mmengine's code, about
nothing a user of the tools can change (mmengine needs ``pkg_resources``,
hence ``setuptools<82``). ``pytest.ini`` filters the same message.
"""
import warnings

#: the start of setuptools' message
PKG_RESOURCES_DEPRECATION = 'pkg_resources is deprecated as an API'


def ignore_pkg_resources_deprecation() -> None:
    """Filter setuptools' ``pkg_resources`` deprecation warning."""
    warnings.filterwarnings(
        'ignore', message=PKG_RESOURCES_DEPRECATION, category=UserWarning)
