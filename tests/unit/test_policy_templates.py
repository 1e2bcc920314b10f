"""IT's policy templates: in sync with the settings schema, well-formed, and read back by the
policy readers exactly as the templates say (issue 16, item 5)."""

from __future__ import annotations

import json
import plistlib
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from desktop.core import managed, policy_sources, policy_templates
from desktop.core.errors import SettingError
from desktop.core.settings import SCHEMA, _validate_policy

ROOT = Path(__file__).resolve().parents[2]
NS = {"p": "http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions"}


def _xml(text: str) -> ET.Element:
    # ADMX files carry no namespace declaration of their own here; parse as is.
    return ET.fromstring(text.encode("utf-8"))


def test_the_committed_templates_are_the_generated_ones() -> None:
    for relative, data in policy_templates.templates().items():
        path = ROOT / relative
        assert path.exists(), f"{relative} is missing: run scripts/policy-templates.py"
        assert path.read_bytes() == data, f"{relative} is stale: run scripts/policy-templates.py"


def test_the_check_script_fails_on_a_stale_file(tmp_path: Path) -> None:
    # A copy of the script next to a stale docs/policies.md must report it.
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "policy-templates.py").write_text(
        (ROOT / "scripts" / "policy-templates.py").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "desktop").symlink_to(ROOT / "desktop")
    for relative, data in policy_templates.templates().items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(data)
    (tmp_path / "docs" / "policies.md").write_text("# old\n", encoding="utf-8")
    run = [sys.executable, str(scripts / "policy-templates.py"), "--check"]
    stale = subprocess.run(run, capture_output=True, text=True, check=False)
    assert stale.returncode == 1 and "docs/policies.md" in stale.stdout
    subprocess.run(run[:-1], capture_output=True, check=True)
    assert subprocess.run(run, capture_output=True, check=False).returncode == 0


def test_every_setting_is_in_the_admx_with_its_key_type_and_bounds() -> None:
    root = _xml(policy_templates.admx())
    policies = {p.get("name"): p for p in root.iter("policy")}
    for setting in SCHEMA:
        names = [setting.key.replace(".", "_") + "_recommended"]
        if setting.lockable:
            names.append(setting.key.replace(".", "_"))
        for name in names:
            policy = policies.pop(name)
            key = policy_sources.REGISTRY_KEY + ("\\Recommended" if "recommended" in name else "")
            assert policy.get("key") == key
            if setting.type is bool:
                assert policy.get("valueName") == setting.key
                assert policy.find("enabledValue/decimal").get("value") == "1"  # type: ignore[union-attr]
                continue
            (element,) = list(policy.find("elements"))  # type: ignore[arg-type]
            assert element.get("valueName") == setting.key
            if setting.type is int:
                assert element.tag == "decimal"
                assert element.get("minValue") == str(int(setting.minimum or 0))
                assert element.get("maxValue") == str(int(setting.maximum))  # type: ignore[arg-type]
            elif setting.choices:
                assert element.tag == "enum"  # a drop-down of the allowed values
            else:
                assert element.tag == "text"  # text and decimals are REG_SZ
    assert policies == {}, f"policies for no setting: {sorted(policies)}"


def test_non_lockable_settings_are_recommended_only() -> None:
    names = {p.get("name") for p in _xml(policy_templates.admx()).iter("policy")}
    personal = [s for s in SCHEMA if not s.lockable]
    assert personal, "the schema has personal settings (e.g. ui.font_scale)"
    for setting in personal:
        assert setting.key.replace(".", "_") not in names


def test_every_admx_reference_resolves_in_the_adml() -> None:
    admx, adml = policy_templates.admx(), policy_templates.adml()
    resources = _xml(adml)
    strings = {s.get("id") for s in resources.iter("string")}
    presentations = {p.get("id"): p for p in resources.iter("presentation")}
    for ref in re.findall(r"\$\(string\.([^)]+)\)", admx):
        assert ref in strings, ref
    root = _xml(admx)
    for policy in root.iter("policy"):
        assert f"{policy.get('name')}_Explain" in strings
        ref = policy.get("presentation")
        if ref is None:
            continue
        presentation = presentations[ref[len("$(presentation.") : -1]]
        element_ids = {e.get("id") for e in policy.find("elements")}  # type: ignore[union-attr]
        assert {c.get("refId") for c in presentation} == element_ids
    categories = {c.get("name") for c in root.iter("category")}
    for policy in root.iter("policy"):
        assert policy.find("parentCategory").get("ref") in categories  # type: ignore[union-attr]


def test_what_the_admx_writes_is_what_the_registry_reader_accepts() -> None:
    """Group Policy writes REG_DWORD for enabled/disabled and decimals, REG_SZ for text."""
    root = _xml(policy_templates.admx())
    kinds = {s.key: s.type for s in SCHEMA}
    for policy in root.iter("policy"):
        value_name = policy.get("valueName")
        if value_name is not None:  # a boolean policy
            written = [
                (value_name, 1, policy_sources.REG_DWORD),
                (value_name, 0, policy_sources.REG_DWORD),
            ]
        else:
            element = next(iter(policy.find("elements")))  # type: ignore[arg-type]
            key = element.get("valueName")
            if element.tag == "decimal":
                written = [(key, int(element.get("minValue")), policy_sources.REG_DWORD)]
            else:
                setting = next(s for s in SCHEMA if s.key == key)
                written = [(key, str(setting.default), policy_sources.REG_SZ)]
        for key, data, reg_type in written:
            value = policy_sources.registry_value(kinds[key], data, reg_type)
            _validate_policy("recommended", key, value)


def test_the_profile_and_the_example_apply_cleanly() -> None:
    profile = plistlib.loads(policy_templates.mobileconfig())
    assert profile["PayloadType"] == "Configuration"
    (payload,) = profile["PayloadContent"]
    assert payload["PayloadType"] == policy_templates.MAC_DOMAIN
    prefs = {k: v for k, v in payload.items() if not k.startswith("Payload")}
    assert prefs == policy_templates.EXAMPLE
    docs_example = policy_templates.markdown().split("```json\n")[1].split("```")[0]
    sources = [
        *policy_sources.read_plist(prefs, "profile"),
        policy_sources.parse_policy_json(docs_example.encode(), "mandatory", "docs example"),
    ]
    policy = managed.resolve(sources, _validate_policy)
    assert policy.problems == []
    assert policy.mandatory == policy_templates.EXAMPLE


def test_a_renamed_setting_in_the_example_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(policy_templates.EXAMPLE, "sync.address", "https://x.example/")
    with pytest.raises(SettingError, match=r"sync\.address"):
        policy_templates.mobileconfig()


def test_the_json_schema_matches_the_settings_schema() -> None:
    schema = policy_templates.json_schema()
    properties = schema["properties"]
    assert isinstance(properties, dict)
    assert schema["additionalProperties"] is False
    json_types = {bool: "boolean", int: "integer", float: "number", str: "string"}
    for setting in SCHEMA:
        spec = properties[setting.key]
        assert spec["type"] == json_types[setting.type]
        assert spec["default"] == setting.default
        assert spec.get("minimum") == setting.minimum
        assert spec.get("maximum") == setting.maximum
    assert set(properties) == {s.key for s in SCHEMA} | {policy_sources.TOPICS_KEY}
    json.dumps(schema)  # serialisable as written
