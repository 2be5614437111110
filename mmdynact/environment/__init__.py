"""What mmdynact needs from its environment, and how it is checked.

* :mod:`.known_issues`: package versions that do not work together, and
  errors that name the cause and the fix;
* :mod:`.mmcv_build`: how ``make env`` installs mmcv (with CUDA ops on a
  machine with a CUDA GPU and nvcc, CPU ops otherwise); it runs before
  mmdynact can be imported and uses the standard library only;
* :mod:`.triton_probe`: a tiny Triton kernel that ``check_env`` runs;
* ``python -m mmdynact.check_env`` (:mod:`mmdynact.check_env`) reports it
  all.
"""
from .known_issues import (KNOWN_ISSUES, IncompatibleEnvironment, KnownIssue,
                           explain_incompatibility, installed_versions,
                           issue_behind)

__all__ = [
    'KNOWN_ISSUES', 'IncompatibleEnvironment', 'KnownIssue',
    'explain_incompatibility', 'installed_versions', 'issue_behind'
]
