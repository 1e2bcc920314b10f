#!/usr/bin/env bash
# Install, run, upgrade, remove and purge the Debian package the way IT's tools would (no
# prompts, no stdin), and check what each step keeps. Run by .ci/run after `make deb`.
#
#   bash installer/deb/test-deb.sh [DEB]         # default: dist/deskmate_<version>_amd64.deb
#
# The upgrade installs a newer build of the same bundle (<version>+b1, built here with
# build-deb.sh --build 1 unless dist/ already has it). Must run as root. It installs into the
# real system only when no Deskmate package and no /etc/deskmate exist (it removes everything
# it added when it ends, also on failure); set DESKMATE_DEB_ROOT=DIR to install under DIR
# instead (`dpkg --root`, dependencies not checked), e.g. on a machine that has Deskmate.
set -Eeuo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
export DEBIAN_FRONTEND=noninteractive
APP_VERSION=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' desktop/__init__.py)
DEB1=${1:-dist/deskmate_${APP_VERSION}_amd64.deb}
DEB2=dist/deskmate_${APP_VERSION}+b1_amd64.deb
T0=$EPOCHREALTIME
STEP_T0=$EPOCHREALTIME
step() {
    printf '    ok (%ss)\n==> %s\n' "$(awk -v a="$STEP_T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')" "$*"
    STEP_T0=$EPOCHREALTIME
}
fail() {
    printf 'test-deb: FAILED: %s\n' "$*" >&2
    exit 1
}
[[ $(id -u) == 0 ]] || fail "must run as root (it installs a package)"
[[ -f $DEB1 ]] || fail "no $DEB1: run 'make deb' first"

TARGET=${DESKMATE_DEB_ROOT:-}
DPKG=(dpkg)
if [[ -n $TARGET ]]; then
    mkdir -p "$TARGET"/var/lib/dpkg/{info,updates,triggers}
    touch "$TARGET"/var/lib/dpkg/{status,available}
    DPKG=(dpkg --root="$TARGET" --force-depends --force-not-root)
elif dpkg-query -W deskmate >/dev/null 2>&1 || [[ -e /etc/deskmate ]]; then
    fail "this system already has Deskmate or /etc/deskmate; set DESKMATE_DEB_ROOT=DIR to test under DIR"
fi
R=${TARGET%/}
WORK=$(mktemp -d)
POLICY=$R/etc/deskmate/policies/managed/50-ci-test.json
cleanup() {
    if [[ -z $TARGET ]]; then
        "${DPKG[@]}" --purge deskmate </dev/null >/dev/null 2>&1 || true
        rm -f "$POLICY"
        rmdir "$R"/etc/deskmate/policies/{managed,recommended} "$R"/etc/deskmate/policies \
            "$R"/etc/deskmate 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
run_dpkg() { # dpkg, quiet about the dependencies that --force-depends (DESKMATE_DEB_ROOT) skips
    local rc=0
    "${DPKG[@]}" "$@" </dev/null >"$WORK/dpkg.log" 2>&1 || rc=$?
    grep -v -e 'depends on' -e '^  Package .* is not installed' "$WORK/dpkg.log" || true
    return "$rc"
}
status() { dpkg-query --admindir="$R/var/lib/dpkg" -W -f='${db:Status-Status} ${Version}' deskmate 2>/dev/null || echo "not-installed"; }
# The installed command, as a user runs it: a clean home, no venv, no PYTHONPATH.
user_env=(env -i HOME="$WORK/home" DESKMATE_HOME="$WORK/home/deskmate" PATH=/usr/bin:/bin
    LANG=C.UTF-8 QT_QPA_PLATFORM=offscreen)
deskmate() { "${user_env[@]}" "$R/usr/bin/deskmate" "$@" </dev/null; }
if [[ -n $TARGET ]]; then # /usr/bin/deskmate points at /opt/deskmate, outside DIR
    # and the machine policy folder is DIR's (honoured as a development folder: the real
    # system has no machine policy, else the environment could not point elsewhere).
    user_env+=(DESKMATE_POLICY_DIR="$R/etc/deskmate/policies")
    deskmate() { "${user_env[@]}" "$R/opt/deskmate/deskmate" "$@" </dev/null; }
fi

echo "==> dpkg -i $DEB1 ${TARGET:+(under $TARGET)}"
if ! run_dpkg -i "$DEB1" && [[ -z $TARGET ]]; then
    echo "test-deb: dpkg -i left dependencies missing; apt-get -f install (as IT's tools do)"
    apt-get install -f -y -qq --no-install-recommends </dev/null || fail "apt-get -f install"
fi
[[ $(status) == "installed $APP_VERSION" ]] || fail "after install: $(status)"
[[ $(readlink "$R/usr/bin/deskmate") == /opt/deskmate/deskmate ]] || fail "/usr/bin/deskmate link"
for f in usr/share/applications/org.deskmate.Deskmate.desktop \
    usr/share/metainfo/org.deskmate.Deskmate.metainfo.xml \
    usr/share/icons/hicolor/scalable/apps/org.deskmate.Deskmate.svg; do
    [[ -f $R/$f ]] || fail "/$f not installed"
done
for d in managed recommended; do
    [[ $(stat -c '%U %a' "$R/etc/deskmate/policies/$d") == "root 755" ]] ||
        fail "/etc/deskmate/policies/$d is $(stat -c '%U %a' "$R/etc/deskmate/policies/$d")"
done

step "deskmate --version and doctor --json"
[[ $(deskmate --version) == "Deskmate, version $APP_VERSION" ]] || fail "deskmate --version"
deskmate doctor --json >"$WORK/doctor.json" || true # exit 1 only says some check is not ok
python3 - "$WORK/doctor.json" <<'PY' || fail "doctor --json (above)"
import json, sys
report = json.load(open(sys.argv[1]))
checks = {c["name"]: c for c in report["checks"]}
print("    " + "; ".join(f"{n}: {c['status']}" for n, c in checks.items()))
for name in ("model", "embedding model"):
    assert checks[name]["status"] == "ok", checks[name]
    assert "/opt/deskmate/" in checks[name]["message"], checks[name]
PY

step "admin policy and user data, then upgrade to a newer build"
printf '{"generation.enabled": false}\n' >"$POLICY"
chmod 644 "$POLICY"
deskmate config set ui.font_scale 1.25 >/dev/null
user_settings=$(find "$WORK/home/deskmate" -name settings.json | head -n1)
[[ -n $user_settings ]] || fail "deskmate config set wrote no settings.json"
policy_sum=$(sha256sum "$POLICY")
data_sum=$(sha256sum "$user_settings")
policy_in_force() {
    deskmate policy --json | python3 -c '
import json, sys
rows = json.load(sys.stdin)["policies"]
assert any(r["key"] == "generation.enabled" and r["status"] == "applied" for r in rows), rows' ||
        fail "the admin policy is not in force ($1)"
}
policy_in_force "before the upgrade"
if [[ ! -f $DEB2 ]]; then
    DESKMATE_DEB_COMPRESS=gzip DESKMATE_DEB_LEVEL=1 DESKMATE_DEB_LINT=0 \
        bash installer/deb/build-deb.sh --build 1
fi
run_dpkg -i "$DEB2" || fail "dpkg -i $DEB2 (upgrade)"
[[ $(status) == "installed $APP_VERSION+b1" ]] || fail "after upgrade: $(status)"
[[ $(sha256sum "$POLICY") == "$policy_sum" ]] || fail "the upgrade changed the admin policy"
[[ $(sha256sum "$user_settings") == "$data_sum" ]] || fail "the upgrade changed user data"
policy_in_force "after the upgrade"
deskmate --version >/dev/null || fail "deskmate --version after the upgrade"

step "dpkg -r (remove)"
run_dpkg -r deskmate || fail "dpkg -r deskmate"
[[ ! -e $R/opt/deskmate && ! -L $R/usr/bin/deskmate ]] || fail "remove left /opt/deskmate or /usr/bin/deskmate"
[[ $(sha256sum "$POLICY") == "$policy_sum" ]] || fail "remove touched the admin policy"
[[ $(sha256sum "$user_settings") == "$data_sum" ]] || fail "remove touched user data"

step "dpkg -P (purge)"
run_dpkg -P deskmate || fail "dpkg -P deskmate"
[[ $(status) == not-installed* ]] || fail "after purge: $(status)"
[[ -f $POLICY ]] || fail "purge deleted the admin's policy file (it belongs to IT)"
[[ -f $user_settings ]] || fail "purge deleted user data"
step "done"
echo "test-deb: passed in $(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')s"
