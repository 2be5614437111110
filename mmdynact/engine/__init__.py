"""Hooks of mmdynact's layers, and the mmengine 0.10.7 workarounds its tools
run with (:mod:`.compat`)."""
from .compat import *  # noqa: F401,F403
from .hooks import *  # noqa: F401,F403
