"""The machine policy's ``sensitive_topics`` section, validated when the policy is read.

In a policy file (see :mod:`desktop.core.managed`) it is the reserved key ``sensitive_topics``
beside the setting keys, read from mandatory sources only; several files' sections all apply.

``{"sensitive_topics": {"gambling": {"rule": "...", "triggers": [...], "examples": [...]}}}``:
each topic needs a non-empty ``rule`` and at least one usable trigger phrase or example message.
A topic named like a built-in one (``self_harm``, ``fraud``, ...) replaces its rule and adds to
its triggers and examples; ``{"minor": {"disabled": true}}`` is the only way to switch a built-in
topic off (``deskmate doctor`` says so).
A trigger routes every message that contains it to a person, so a blank or very short one
(``""``, ``"a"``) would route nearly every question: such triggers are refused. Whatever is
invalid is reported (``deskmate doctor``, ``deskmate config``) and ignored; the valid rest of
the policy still applies. The setting keys are read by :mod:`desktop.core.managed`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SECTION = "sensitive_topics"
MIN_TRIGGER_LETTERS = 3  # letters or digits: "ombudsman" and "sos" are fine, "" and "a" are not
_KEYS = ("rule", "triggers", "examples", "disabled")


@dataclass(frozen=True)
class PolicyTopic:
    """A sensitive topic as IT defines it in machine policy, with only its valid parts."""

    name: str
    rule: str
    triggers: tuple[str, ...]
    examples: tuple[str, ...]
    disabled: bool = False


def usable_trigger(trigger: object) -> bool:
    """Whether *trigger* is text specific enough to identify a case on its own."""
    return isinstance(trigger, str) and len(re.findall(r"\w", trigger)) >= MIN_TRIGGER_LETTERS


def sensitive_topics(policy: object, where: Path) -> tuple[list[PolicyTopic], list[str]]:
    """The valid topics of the policy document *policy* (read from *where*) and the problems."""
    section = policy.get(SECTION, {}) if isinstance(policy, dict) else {}
    if not isinstance(section, dict):
        return [], [_problem(where, f'"{SECTION}" is not a JSON object of topics. It is ignored.')]
    topics: list[PolicyTopic] = []
    problems: list[str] = []
    for name, spec in section.items():
        topic = _topic(str(name), spec, _reporter(problems, where, str(name)))
        if topic is not None:
            topics.append(topic)
    return topics, problems


def _topic(name: str, spec: object, report: Callable[[str], None]) -> PolicyTopic | None:
    if not isinstance(spec, dict):
        report('is not a JSON object with "rule", "triggers" and "examples". It is ignored.')
        return None
    for key in sorted(spec.keys() - set(_KEYS)):
        report(f"has an unknown key {key!r} (use {', '.join(_KEYS)}). It is ignored.")
    disabled = spec.get("disabled", False)
    if not isinstance(disabled, bool):
        report('has "disabled" that is not true or false. The topic is ignored.')
        return None
    if disabled:
        return PolicyTopic(name, "", (), (), disabled=True)
    rule = spec.get("rule")
    if not isinstance(rule, str) or not rule.strip():
        report('needs a "rule": the company\'s rule, as text. The topic is ignored.')
        return None
    triggers = _texts(spec, "triggers", report)
    for trigger in [t for t in triggers if not usable_trigger(t)]:
        report(
            f"has the trigger {trigger!r}, which would route almost every message to a person "
            f"(a trigger needs at least {MIN_TRIGGER_LETTERS} letters or digits). It is ignored."
        )
    triggers = [t for t in triggers if usable_trigger(t)]
    examples = [e for e in _texts(spec, "examples", report) if e.strip()]
    if not triggers and not examples:
        report("has no usable trigger or example, so nothing could match it. It is ignored.")
        return None
    return PolicyTopic(name, rule.strip(), tuple(triggers), tuple(examples))


def _texts(spec: dict[str, object], key: str, report: Callable[[str], None]) -> list[str]:
    """The texts listed under *key*; anything else is reported and left out."""
    value = spec.get(key, [])
    if not isinstance(value, list):
        report(f'has "{key}" that are not a list of texts. They are ignored.')
        return []
    wrong = [item for item in value if not isinstance(item, str)]
    if wrong:
        report(f'has {len(wrong)} "{key}" that are not text. They are ignored.')
    return [item for item in value if isinstance(item, str)]


def _reporter(problems: list[str], where: Path, name: str) -> Callable[[str], None]:
    def report(text: str) -> None:
        problems.append(_problem(where, f"sensitive topic {name!r} {text}"))

    return report


def _problem(where: Path, text: str) -> str:
    return f"Machine policy {where}: {text} Ask IT to fix the policy."
