#!/usr/bin/env bash
# Build Deskmate's MSI with wixl (msitools) around a payload folder.        `make msi`
#
#   bash installer/msi/build-msi.sh [--payload DIR]
#
# --payload DIR: a Windows build of Deskmate (PyInstaller onedir with deskmate.exe; built on a
# Windows runner by installer/windows/build.ps1). Without it, a small stand-in payload is made
# (a fake deskmate.exe and a few files): that MSI proves the package's structure in CI, and is
# named ...-standin.msi so that it is never mistaken for a release.
#
# Writes dist/msi/deskmate-<version>-x64[-standin].msi and, beside it, the ADMX/ADML templates
# (dist/msi/policy-templates/) for IT's Group Policy central store. Needs wixl, msibuild and
# msiinfo (Debian/Ubuntu: apt-get install wixl msitools) and python3.
set -Eeuo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
PY=${PY:-python3}
OUT=${DESKMATE_DIST:-dist}/msi
PAYLOAD=
while (($#)); do
    case $1 in
        --payload) PAYLOAD=$2; shift 2 ;;
        *) echo "usage: $0 [--payload DIR]" >&2; exit 2 ;;
    esac
done
die() {
    printf 'msi: ERROR: %s\n' "$*" >&2
    exit 1
}
for tool in wixl msibuild msiinfo; do
    command -v $tool >/dev/null || die "$tool is missing (Debian/Ubuntu: apt-get install wixl msitools)"
done
t0=$EPOCHREALTIME
VERSION=$("$PY" -c 'import sys; sys.path.insert(0, "installer/msi"); import make_wxs; print(make_wxs.app_version())')
WORK=build/msi
rm -rf "$WORK"
mkdir -p "$WORK" "$OUT"
NAME=deskmate-$VERSION-x64
if [[ -z $PAYLOAD ]]; then
    PAYLOAD=$WORK/standin
    NAME=$NAME-standin
    mkdir -p "$PAYLOAD/_internal/resources/demo" "$PAYLOAD/_internal/llama_cpp/lib"
    printf 'MZ stand-in for the Windows build of Deskmate %s\r\n' "$VERSION" >"$PAYLOAD/deskmate.exe"
    printf 'stand-in\r\n' >"$PAYLOAD/_internal/llama_cpp/lib/llama.dll"
    printf 'stand-in\r\n' >"$PAYLOAD/_internal/python311.dll"
    printf '# Northwind Mobile (stand-in)\r\n' >"$PAYLOAD/_internal/resources/demo/welcome.md"
fi
[[ -f $PAYLOAD/deskmate.exe ]] || die "$PAYLOAD has no deskmate.exe: not a Windows build"

"$PY" installer/msi/make_wxs.py --payload "$PAYLOAD" --out "$WORK/deskmate.wxs" --dialect wixl
rm -f "$OUT/$NAME.msi"
wixl --arch x64 --output "$WORK/$NAME.msi" "$WORK/deskmate.wxs"
# What wixl 0.101 cannot say in the source: component conditions, Permanent, secure properties.
while IFS= read -r query; do
    msibuild "$WORK/$NAME.msi" -q "$query" || die "msibuild could not apply: $query"
done < <("$PY" installer/msi/make_wxs.py --fixups)
mv "$WORK/$NAME.msi" "$OUT/$NAME.msi"
rm -rf "$OUT/policy-templates"
mkdir -p "$OUT/policy-templates/en-US"
cp installer/policy-templates/deskmate.admx "$OUT/policy-templates/"
cp installer/policy-templates/en-US/deskmate.adml "$OUT/policy-templates/en-US/"
size=$(du -h "$OUT/$NAME.msi" | cut -f1)
printf 'msi: %s/%s.msi (%s) in %.1f s\n' "$OUT" "$NAME" "$size" "$(bc <<<"$EPOCHREALTIME - $t0")"
