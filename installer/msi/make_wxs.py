"""Write Deskmate's Windows Installer source (WiX .wxs) from the version and a payload folder.

    python installer/msi/make_wxs.py --payload dist/deskmate-win --out build/msi/deskmate.wxs
    python installer/msi/make_wxs.py --fixups     # the SQL that build-msi.sh applies after wixl

The package is per-machine (``ALLUSERS=1``) into ``ProgramFiles64Folder\\Deskmate``, with a
Start-menu shortcut, IT's ADMX/ADML templates in ``policy-templates\\``, and two public
properties that write machine policy where :mod:`desktop.core.policy_sources` reads it:

* ``PACKSOURCE``    -> ``HKLM\\SOFTWARE\\Policies\\Deskmate`` ``sync.url`` (REG_SZ)
* ``SYNCINTERVAL``  -> ``HKLM\\SOFTWARE\\Policies\\Deskmate`` ``sync.interval_minutes`` (REG_DWORD)

Each is written only when given, and is *permanent*: like the policy files of the Debian package,
the policy belongs to IT, so upgrade and uninstall leave it in place (change it with Group Policy
or by installing again with the property).

Upgrades work because nothing here is random: the UpgradeCode is fixed, and every component's
GUID is a UUID5 of its file's path inside the installation folder, so a file that stays where it
was keeps its component from one version to the next (Windows Installer's component rules).

Two dialects: ``wix3`` (the WiX Toolset on a Windows runner: component conditions, ``Permanent``
and ``Secure`` as attributes) and ``wixl`` (msitools 0.101, which knows none of those: the same
rows are set after the build with :func:`wixl_fixups` through ``msibuild``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from xml.sax.saxutils import escape, quoteattr

ROOT = Path(__file__).resolve().parents[2]
# Never change these two: Windows Installer finds the installed Deskmate by the UpgradeCode, and
# every component GUID is derived from NAMESPACE.
UPGRADE_CODE = "9D3E2A41-6C0B-4F7E-8B1D-2E5C7A90F314"
NAMESPACE = uuid.UUID("3b0a6f52-8d7e-4c1a-9e35-51f0c2d8a6b7")
POLICY_KEY = r"SOFTWARE\Policies\Deskmate"  # = desktop.core.policy_sources.REGISTRY_KEY
MANUFACTURER = "Deskmate"
EXE = "deskmate.exe"
TEMPLATES = ROOT / "installer" / "policy-templates"
TEMPLATE_FILES = ("deskmate.admx", "en-US/deskmate.adml")
# The bounds of sync.interval_minutes in the settings schema (a test keeps them equal).
SYNC_INTERVAL_RANGE = (0, 10080)
# msidbComponentAttributes: 64-bit, registry key path, never removed by uninstall.
ATTR_64BIT, ATTR_REGISTRY_KEY_PATH, ATTR_PERMANENT = 256, 4, 16


@dataclass(frozen=True)
class Policy:
    """A public property of the MSI that writes one machine-policy value."""

    prop: str
    name: str  # the registry value: the setting key
    wix_type: str  # "string" (REG_SZ) or "integer" (REG_DWORD)

    @property
    def component(self) -> str:
        return "Policy_" + self.prop


POLICIES = (
    Policy("PACKSOURCE", "sync.url", "string"),
    Policy("SYNCINTERVAL", "sync.interval_minutes", "integer"),
)


def app_version(init: Path = ROOT / "desktop" / "__init__.py") -> str:
    """``__version__`` from desktop/__init__.py (read, not imported: no Python package needed)."""
    found = re.search(r'^__version__ = "([^"]+)"', init.read_text(encoding="utf-8"), re.M)
    if not found:
        raise SystemExit(f"make_wxs: no __version__ in {init}")
    return found.group(1)


def msi_version(version: str) -> str:
    """*version* as Windows Installer's ProductVersion: major.minor.build, numbers only."""
    found = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", version)
    if not found or int(found[1]) > 255 or int(found[2]) > 255 or int(found[3]) > 65535:
        raise SystemExit(
            f"make_wxs: version {version!r} is not an MSI ProductVersion (major.minor.build, "
            "at most 255.255.65535); set a plain release version in desktop/__init__.py"
        )
    return version


def component_guid(relative: str) -> str:
    """The component GUID of the file at *relative* (``/``-separated, in the install folder)."""
    return str(uuid.uuid5(NAMESPACE, "file:" + relative.lower())).upper()


def ident(prefix: str, relative: str) -> str:
    """A valid, stable MSI identifier (at most 72 characters) for *relative*."""
    return prefix + hashlib.sha256(relative.lower().encode("utf-8")).hexdigest()[:32]


def harvest(payload: Path) -> dict[str, Path]:
    """Every file of *payload* and the policy templates: install path -> source, in order."""
    if not (payload / EXE).is_file():
        raise SystemExit(f"make_wxs: {payload} has no {EXE}: not a Windows build of Deskmate")
    files = {
        p.relative_to(payload).as_posix(): p
        for p in sorted(payload.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }
    for name in TEMPLATE_FILES:
        source = TEMPLATES / name
        if not source.is_file():
            raise SystemExit(f"make_wxs: {source} is missing: run scripts/policy-templates.py")
        files["policy-templates/" + name] = source
    return files


def _tree(files: dict[str, Path]) -> dict[str, dict[str, Path]]:
    """Files grouped by their folder ('' is the install folder itself)."""
    folders: dict[str, dict[str, Path]] = {}
    for relative, source in files.items():
        parent = str(PurePosixPath(relative).parent)
        folders.setdefault("" if parent == "." else parent, {})[relative] = source
        while parent not in (".", ""):  # every ancestor folder exists, even with no files
            parent = str(PurePosixPath(parent).parent)
            folders.setdefault("" if parent == "." else parent, {})
    return folders


def _source(path: Path) -> str:
    """*path* relative to the working folder: wixl looks files up there and refuses absolute
    paths; the WiX Toolset takes either."""
    return os.path.relpath(path.resolve(), Path.cwd()).replace(os.sep, "/")


def _directory_xml(folder: str, folders: dict[str, dict[str, Path]]) -> list[str]:
    lines = []
    for relative, source in folders[folder].items():
        name = PurePosixPath(relative).name
        guid = component_guid(relative)
        lines.append(
            f'<Component Id="{ident("c", relative)}" Guid="{guid}" Win64="yes">'
            f'<File Id="{ident("f", relative)}" Name={quoteattr(name)} '
            f'Source={quoteattr(_source(source))} KeyPath="yes"/>'
        )
        if relative == EXE:  # not advertised: it starts deskmate.exe, no repair-on-launch
            lines.append(
                f'<Shortcut Id="StartMenuShortcut" Directory="ProgramMenuFolder" Name="Deskmate" '
                f'Target="[#{ident("f", relative)}]" WorkingDirectory="INSTALLDIR" '
                'Description="Grounded answers from your help centre"/>'
            )
        lines.append("</Component>")
    children = sorted(f for f in folders if f and str(PurePosixPath(f).parent) == (folder or "."))
    for child in children:
        lines.append(
            f'<Directory Id="{ident("d", child)}" Name={quoteattr(PurePosixPath(child).name)}>'
        )
        lines += _directory_xml(child, folders)
        lines.append("</Directory>")
    return lines


def _policy_xml(dialect: str) -> list[str]:
    lines = ['<DirectoryRef Id="INSTALLDIR">']
    for policy in POLICIES:
        guid = component_guid("registry:" + policy.name)
        extra = ' Permanent="yes"' if dialect == "wix3" else ""
        lines.append(f'<Component Id="{policy.component}" Guid="{guid}" Win64="yes"{extra}>')
        if dialect == "wix3":
            lines.append(f"<Condition>{policy.prop}</Condition>")
        lines.append(
            f'<RegistryValue Root="HKLM" Key="{POLICY_KEY}" Name="{policy.name}" '
            f'Type="{policy.wix_type}" Value="[{policy.prop}]" KeyPath="yes"/>'
        )
        lines.append("</Component>")
    lines.append("</DirectoryRef>")
    return lines


def _launch_conditions() -> list[str]:
    """Refuse, at install time and with the fix, a property the policy reader would refuse."""
    low, high = SYNC_INTERVAL_RANGE
    checks = (
        (
            'NOT PACKSOURCE OR PACKSOURCE ~<< "https://" OR PACKSOURCE ~<< "file://"',
            "PACKSOURCE must be an https:// address or a file:// folder (or left out).",
        ),
        (
            f"NOT SYNCINTERVAL OR (SYNCINTERVAL >= {low} AND SYNCINTERVAL <= {high})",
            f"SYNCINTERVAL must be a whole number of minutes from {low} to {high} (or left out).",
        ),
    )
    return [f"<Condition Message={quoteattr(m)}>{escape(c)}</Condition>" for c, m in checks]


def wxs(payload: Path, version: str, dialect: str = "wixl") -> str:
    """The WiX source of the Deskmate MSI for *payload* at *version*."""
    files = harvest(payload)
    folders = _tree(files)
    secure = ' Secure="yes"' if dialect == "wix3" else ""
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">',
        f'<Product Id="*" Name="Deskmate" Version="{msi_version(version)}" '
        f'Manufacturer="{MANUFACTURER}" Language="1033" UpgradeCode="{UPGRADE_CODE}">',
        '<Package InstallerVersion="500" Compressed="yes" InstallScope="perMachine" '
        f'Description="Deskmate {version}" Comments="Deskmate agent assist, per-machine"/>',
        '<MediaTemplate EmbedCab="yes"/>',
        '<MajorUpgrade DowngradeErrorMessage="A newer version of Deskmate is already installed."/>',
        '<Property Id="ARPNOMODIFY" Value="1"/>',
        *_launch_conditions(),
        *(f'<Property Id="{p.prop}"{secure}/>' for p in POLICIES),
        '<Directory Id="TARGETDIR" Name="SourceDir">',
        '<Directory Id="ProgramFiles64Folder">',
        '<Directory Id="INSTALLDIR" Name="Deskmate">',
        *_directory_xml("", folders),
        "</Directory></Directory>",
        '<Directory Id="ProgramMenuFolder"/>',
        "</Directory>",
        *_policy_xml(dialect),
        '<Feature Id="Deskmate" Title="Deskmate" Level="1">',
        *(f'<ComponentRef Id="{ident("c", relative)}"/>' for relative in files),
        *(f'<ComponentRef Id="{p.component}"/>' for p in POLICIES),
        "</Feature>",
        "</Product>",
        "</Wix>",
    ]
    return "\n".join(lines) + "\n"


def wixl_fixups() -> list[str]:
    """SQL for ``msibuild -q`` after wixl: what the wix3 dialect says in the source."""
    attributes = ATTR_64BIT | ATTR_REGISTRY_KEY_PATH | ATTR_PERMANENT
    queries = [
        f"UPDATE `Component` SET `Condition` = '{p.prop}', `Attributes` = {attributes} "
        f"WHERE `Component` = '{p.component}'"
        for p in POLICIES
    ]
    secure = ";".join(
        ["WIX_DOWNGRADE_DETECTED", "WIX_UPGRADE_DETECTED", *(p.prop for p in POLICIES)]
    )
    queries.append(
        f"UPDATE `Property` SET `Value` = '{secure}' WHERE `Property` = 'SecureCustomProperties'"
    )
    return queries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--payload", type=Path, help="the Windows build (deskmate.exe in it)")
    parser.add_argument("--out", type=Path, help="the .wxs to write")
    parser.add_argument("--version", default=None, help="default: desktop/__init__.py")
    parser.add_argument("--dialect", choices=("wixl", "wix3"), default="wixl")
    parser.add_argument("--fixups", action="store_true", help="print the msibuild SQL, one a line")
    args = parser.parse_args(argv)
    if args.fixups:
        print("\n".join(wixl_fixups()))
        return 0
    if args.payload is None or args.out is None:
        parser.error("--payload and --out are required")
    text = wxs(args.payload, args.version or app_version(), args.dialect)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
