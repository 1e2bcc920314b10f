#!/usr/bin/env bash
# Package the frozen application (dist/deskmate/, `make bundle`) as a Debian package with dpkg-deb.
#
#   bash installer/deb/build-deb.sh [--build N]     # `make deb [DEB_BUILD=N]`
#
# Writes dist/deskmate_<version>_amd64.deb; --build N (N > 0) makes version <version>+bN, a newer
# build of the same bundle (the upgrade test uses it). Layout: /opt/deskmate (the bundle),
# /usr/bin/deskmate -> /opt/deskmate/deskmate, the .desktop entry, the icon, AppStream metainfo,
# the man page, and the machine policy folders /etc/deskmate/policies/{managed,recommended}
# (empty: what IT puts there belongs to IT and is never touched by upgrade, remove or purge).
# No maintainer scripts: dpkg's own triggers refresh the menu and icon caches.
# Checks: appstreamcli validate and desktop-file-validate where installed; lintian errors fail.
set -Eeuo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
HERE=installer/deb
LINUX=installer/linux
BUNDLE=${DESKMATE_BUNDLE_DIR:-dist/deskmate}
OUT=${DESKMATE_DIST:-dist}
BUILD=0
while (($#)); do
    case $1 in
        --build) BUILD=$2; shift 2 ;;
        *) echo "usage: $0 [--build N]" >&2; exit 2 ;;
    esac
done
die() {
    printf 'deb: ERROR: %s\n' "$*" >&2
    exit 1
}
[[ $BUILD =~ ^[0-9]+$ ]] || die "--build takes a number, not '$BUILD'"
[[ -x $BUNDLE/deskmate ]] || die "no frozen build in $BUNDLE: run 'make bundle' first"
command -v dpkg-deb >/dev/null || die "dpkg-deb is missing (apt-get install dpkg)"

APP_VERSION=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' desktop/__init__.py)
bundled=$("$BUNDLE/deskmate" --version)
[[ $bundled == "Deskmate, version $APP_VERSION" ]] ||
    die "$BUNDLE is '$bundled', this checkout is $APP_VERSION: run 'make bundle' again"
VERSION=$APP_VERSION
if ((BUILD > 0)); then VERSION=$APP_VERSION+b$BUILD; fi
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH
DATE=$(date -u -d "@$SOURCE_DATE_EPOCH" +%F)
RFC_DATE=$(date -u -R -d "@$SOURCE_DATE_EPOCH")
MAINTAINER=${DESKMATE_DEB_MAINTAINER:-Deskmate team <deskmate@deskmate.org>}
HOMEPAGE=${DESKMATE_DEB_HOMEPAGE:-https://deskmate.org/}
ID=org.deskmate.Deskmate
t0=$EPOCHREALTIME

STAGE=build/deb/deskmate_$VERSION
rm -rf "$STAGE"
mkdir -p "$STAGE"/{DEBIAN,opt,usr/bin,usr/share/applications,usr/share/metainfo} \
    "$STAGE"/usr/share/icons/hicolor/scalable/apps "$STAGE"/usr/share/doc/deskmate \
    "$STAGE"/usr/share/man/man1 "$STAGE"/etc/deskmate/policies/{managed,recommended}
echo "==> staging $BUNDLE as /opt/deskmate ($VERSION)"
# Hard links when dist/ and build/ share a file system (no 900 MB copy); the modes set below
# are then the bundle's too, which changes nothing for it.
cp -al "$BUNDLE" "$STAGE/opt/deskmate" 2>/dev/null || cp -a "$BUNDLE" "$STAGE/opt/deskmate"
ln -s /opt/deskmate/deskmate "$STAGE/usr/bin/deskmate"
install -m 644 "$LINUX/$ID.desktop" "$STAGE/usr/share/applications/$ID.desktop"
install -m 644 resources/icons/deskmate.svg "$STAGE/usr/share/icons/hicolor/scalable/apps/$ID.svg"
sed -e "s/@VERSION@/$VERSION/" -e "s/@DATE@/$DATE/" "$LINUX/$ID.metainfo.xml" \
    >"$STAGE/usr/share/metainfo/$ID.metainfo.xml"
install -m 644 "$HERE/copyright" "$STAGE/usr/share/doc/deskmate/copyright"
install -m 644 installer/README.md "$STAGE/usr/share/doc/deskmate/README.md"
# IT's policy templates (ADMX/ADML, .mobileconfig, JSON schema), generated from the settings.
if [[ -d installer/policy-templates ]]; then
    cp -r installer/policy-templates "$STAGE/usr/share/doc/deskmate/policy-templates"
fi
gzip -9n <"$HERE/deskmate.1" >"$STAGE/usr/share/man/man1/deskmate.1.gz"
printf 'deskmate (%s) unstable; urgency=medium\n\n  * Deskmate %s, packaged from the frozen build.\n\n -- %s  %s\n' \
    "$VERSION" "$APP_VERSION" "$MAINTAINER" "$RFC_DATE" |
    gzip -9n >"$STAGE/usr/share/doc/deskmate/changelog.gz"
# Lintian overrides (each with its reason) travel with the package.
mkdir -p "$STAGE/usr/share/lintian/overrides"
install -m 644 "$HERE/lintian-overrides" "$STAGE/usr/share/lintian/overrides/deskmate"

# Modes: directories 755, files 644 (shared libraries too), the entry point 755; owner root.
find "$STAGE" -type d -exec chmod 755 {} +
find "$STAGE" -type f -exec chmod 644 {} +
chmod 755 "$STAGE/opt/deskmate/deskmate"

size=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@SIZE@/$size/" -e "s|@MAINTAINER@|$MAINTAINER|" \
    -e "s|@HOMEPAGE@|$HOMEPAGE|" "$HERE/control.in" >"$STAGE/DEBIAN/control"
(cd "$STAGE" && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\0' |
    LC_ALL=C sort -z | xargs -0 md5sum) >"$STAGE/DEBIAN/md5sums"
chmod 644 "$STAGE/DEBIAN/control" "$STAGE/DEBIAN/md5sums"

if command -v appstreamcli >/dev/null; then
    appstreamcli validate --no-net --pedantic "$STAGE/usr/share/metainfo/$ID.metainfo.xml" ||
        die "AppStream metainfo does not validate"
fi
if command -v desktop-file-validate >/dev/null; then
    desktop-file-validate "$STAGE/usr/share/applications/$ID.desktop" || die "bad .desktop entry"
fi

mkdir -p "$OUT"
DEB=$OUT/deskmate_${VERSION}_amd64.deb
echo "==> dpkg-deb -> $DEB"
dpkg-deb --root-owner-group -Z"${DESKMATE_DEB_COMPRESS:-gzip}" -z"${DESKMATE_DEB_LEVEL:-6}" --threads-max=$(nproc) \
    --build "$STAGE" "$DEB"
rm -rf "$STAGE"

if [[ ${DESKMATE_DEB_LINT:-1} == 0 ]]; then
    echo "deb: lintian skipped (DESKMATE_DEB_LINT=0)"
elif command -v lintian >/dev/null; then
    echo "==> lintian (errors fail the build)"
    lintian_rc=0
    lintian --fail-on error --tag-display-limit 0 "$DEB" || lintian_rc=$?
    ((lintian_rc == 0)) || die "lintian reported errors (see above); fix them or override with a reason"
else
    echo "deb: warning: lintian is not installed; not checked (apt-get install lintian)" >&2
fi
seconds=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
echo "deb: $DEB ($(du -h "$DEB" | cut -f1)) built in ${seconds}s"
