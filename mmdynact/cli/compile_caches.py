"""Inductor's and Triton's on-disk caches of compiled kernels in the
benchmark tools: empty at the start of each run (so a first call shows the
whole compile time), unless ``--warm-cache``."""
import argparse
import os
import tempfile


def add_warm_cache(parser: argparse.ArgumentParser) -> None:
    """``--warm-cache``: reuse the caches."""
    parser.add_argument(
        '--warm-cache',
        action='store_true',
        help="reuse inductor's and Triton's on-disk caches "
        'of compiled kernels (first calls then skip most '
        'compilation)')


def use_compile_caches(warm: bool) -> None:
    """Point inductor and Triton at fresh empty cache folders, unless
    ``warm``; call it before anything compiles."""
    if not warm:
        cache = tempfile.mkdtemp(prefix='mmdynact-benchmark-')
        os.environ['TORCHINDUCTOR_CACHE_DIR'] = os.path.join(cache, 'inductor')
        os.environ['TRITON_CACHE_DIR'] = os.path.join(cache, 'triton')
