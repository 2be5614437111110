#!/usr/bin/env bash
# Sets up a fresh machine for mmdynact: a virtual environment in ./.venv with
# torch, mmengine, mmcv (with ops), mmdet, mmseg, mmpretrain, mmpose and mmdynact.
#
#   bash tools/setup_env.sh [--find-links DIR] ...
#
# Extra arguments are passed to every pip call (e.g. --find-links ../shared/wheels
# to take a prebuilt mmcv wheel instead of the ~45 min source build).
# mmcv is built with CUDA ops on a machine with a CUDA GPU and nvcc, with CPU ops
# otherwise (mmdynact/environment/mmcv_build.py decides and says which).
# It ends with `python -m mmdynact.check_env`. Running it again is fast: when
# nothing it installs from has changed and every import still works, it only
# re-checks mmcv (CPU ops are rebuilt with CUDA ops where that is possible now),
# the imports and the environment.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
venv="${MMDYNACT_VENV:-$repo/.venv}"
python="${PYTHON:-python3}"
constraints="$repo/requirements/constraints.txt"
pip_args=("$@")

say() { printf '\n[setup_env] %s\n' "$*"; }

check_imports() {
  "$venv/bin/python" - <<'PY'
import importlib, sys
failed = []
for name in ('torch', 'torchvision', 'mmengine', 'mmcv.ops', 'mmdet.models',
             'mmseg.models', 'mmpretrain.models', 'mmpose.models', 'mmdynact'):
    try:
        importlib.import_module(name)
        print(f'  ok      {name}')
    except Exception as exc:  # report every failure, not only the first
        failed.append(name)
        print(f'  FAILED  {name}: {type(exc).__name__}: {exc}')
if failed:
    print(f'[setup_env] these imports failed: {", ".join(failed)}')
    sys.exit(1)
print('[setup_env] environment ready: source .venv/bin/activate')
PY
}

check_env() {
  say "checking the environment (python -m mmdynact.check_env)"
  "$venv/bin/python" -m mmdynact.check_env
}

pip=("$venv/bin/python" -m pip install --disable-pip-version-check -c "$constraints" "${pip_args[@]}")

install_mmcv() {
  say "mmcv 2.1.0 with ops"
  # keeps a working mmcv; else CUDA ops where a GPU and nvcc are, CPU ops
  # otherwise (a CPU wheel found through --find-links / PIP_FIND_LINKS is taken)
  "$venv/bin/python" mmdynact/environment/mmcv_build.py "${pip[@]}"
}

stamp_file="$venv/.mmdynact-setup-stamp"
stamp=$(cat "$constraints" requirements/*.txt setup.py tools/setup_env.sh \
  mmdynact/environment/mmcv_build.py | sha256sum | cut -d' ' -f1)
if [[ -f "$stamp_file" && "$(cat "$stamp_file")" == "$stamp" ]]; then
  say "already set up ($venv); checking mmcv and the imports"
  install_mmcv
  if check_imports; then
    check_env
    exit 0
  fi
  say "imports failed; installing again"
fi

if [[ ! -x "$venv/bin/python" ]]; then
  say "creating virtual environment $venv"
  "$python" -m venv "$venv"
fi

say "torch, torchvision, build tools"
"${pip[@]}" 'setuptools<82' wheel 'numpy<2' 'torch===2.13.0' 'torchvision==0.28.0'

say "mmengine"
"${pip[@]}" 'mmengine==0.10.7'

install_mmcv

say "OpenMMLab toolboxes"
"${pip[@]}" 'mmdet==3.3.0' 'mmsegmentation==1.2.2' ftfy regex 'mmpretrain==1.2.0'
# mmpose lists chumpy, which does not build and is never imported: install
# its real dependencies by name, then mmpose without dependencies. (In that
# order pip has no reason to check mmpose's requirements; a later pip call
# that reinstalls one of them reports chumpy missing.)
say "mmpose without chumpy (broken, never imported); pip's 'mmpose 1.3.2 requires chumpy, which is not installed', if it appears, is expected"
"${pip[@]}" -r requirements/pose.txt
"${pip[@]}" --no-deps 'mmpose==1.3.2'

say "mmdynact (editable) and test tools"
"${pip[@]}" -e ".[tests]"

say "checking imports"
check_imports
echo "$stamp" > "$stamp_file"
check_env
