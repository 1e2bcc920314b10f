"""The one settings schema and its layers: built-in defaults < user file < machine policy.

Each setting is declared once, in :data:`SCHEMA`; the settings dialog, ``deskmate config`` and the
docs are generated from it. Bad files are never fatal: :attr:`Settings.problems` says what was
wrong. Values in files must have the right JSON type (``4096``, not ``"4096"``; ``1`` is fine for
a decimal); only :meth:`Settings.set` parses text, as it serves the command line.

User file (``Paths.settings_file``): a flat JSON object of dotted keys, ``{"model.threads": 4}``.
Unknown keys and unusable values are reported, not applied, and kept on save (a newer Deskmate may
have written them). A file that cannot be parsed (or is nested absurdly deep) is kept aside as
``settings.json.broken-<time>``.

Machine policy (IT; read by :mod:`desktop.core.managed`): mandatory sources lock their values,
recommended ones replace the default but the user's own value wins. Each key is validated
against this schema; unknown keys, invalid values and non-lockable settings (mandatory level)
are reported and never applied, and a broken source never loosens a lock (fail closed, see
:mod:`desktop.core.managed`). Problems in the ``sensitive_topics`` section (see
:mod:`desktop.core.policy`) are reported here too.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Literal, NamedTuple, TypeGuard

from desktop.core import managed
from desktop.core.errors import SettingError
from desktop.core.fileio import atomic_write_text, parse_json
from desktop.core.paths import Paths

SettingValue = str | int | float | bool
Source = Literal["default", "recommended", "user", "policy"]

_TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
_FALSE_WORDS = frozenset({"false", "no", "off", "0"})
_KIND_WORDS: Mapping[type, str] = MappingProxyType(
    {str: "text", int: "a whole number", float: "a number", bool: "true or false"}
)


def _show(value: object) -> str:
    """A value as it would appear in JSON, shortened for messages."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class Setting:
    """The one definition of a setting: type, default, bounds and whether IT may lock it."""

    key: str
    type: type[SettingValue]
    default: SettingValue
    label: str
    description: str
    lockable: bool = True
    choices: tuple[SettingValue, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    def allowed(self) -> str:
        """The valid values in words, e.g. "a whole number from 512 to 131072"."""
        if self.choices:
            return "one of " + ", ".join(_show(choice) for choice in self.choices)
        kind = _KIND_WORDS[self.type]
        low, high = self.minimum, self.maximum
        if low is not None and high is not None:
            return f"{kind} from {_show(low)} to {_show(high)}"
        if low is not None:
            return f"{kind} of at least {_show(low)}"
        if high is not None:
            return f"{kind} of at most {_show(high)}"
        return kind

    def validate(self, value: object) -> SettingValue:
        """Return *value* if it is a valid JSON value for this setting, else raise SettingError."""
        checked = self._check_type(value)
        if not self._in_range(checked) or (self.choices and checked not in self.choices):
            raise self._invalid(value)
        return checked

    def coerce(self, value: object) -> SettingValue:
        """Like :meth:`validate`, but also parses text such as "3", "0.5" or "false" (CLI input)."""
        if isinstance(value, str) and self.type is not str:
            value = self._parse(value)
        return self.validate(value)

    def _check_type(self, value: object) -> SettingValue:
        if isinstance(value, bool):  # bool is an int subclass: only bool settings take it
            if self.type is bool:
                return value
        elif self.type is int and isinstance(value, int):
            return value
        elif self.type is float and isinstance(value, (int, float)):
            with contextlib.suppress(OverflowError):  # an int too large for a float
                if math.isfinite(value):
                    return float(value)
        elif self.type is str and isinstance(value, str):
            return value
        raise self._invalid(value)

    def _in_range(self, value: SettingValue) -> bool:
        if isinstance(value, (bool, str)):
            return True
        too_low = self.minimum is not None and value < self.minimum
        too_high = self.maximum is not None and value > self.maximum
        return not (too_low or too_high)

    def _parse(self, text: str) -> object:
        """Text turned into this setting's type, or the text itself (to be rejected) if it can't."""
        word = text.strip().lower()
        if self.type is bool:
            return True if word in _TRUE_WORDS else False if word in _FALSE_WORDS else text
        try:
            return int(word) if self.type is int else float(word)
        except ValueError:
            return text

    def _invalid(self, value: object) -> SettingError:
        return SettingError(
            f"{_show(value)} is not a valid value for {self.key}: use {self.allowed()}.",
            f"The default is {_show(self.default)}.",
        )


SCHEMA: tuple[Setting, ...] = (
    Setting(
        key="model.path",
        type=str,
        default="",
        label="Model file",
        description="Path to the GGUF language model file. Empty means the bundled default model.",
    ),
    Setting(
        key="model.allowed_sha256",
        type=str,
        default="",
        label="Allowed models (SHA-256)",
        description=(
            "Comma-separated SHA-256 digests of the GGUF files that may be used; empty allows "
            "any. Set by IT in machine policy to pin approved models."
        ),
    ),
    Setting(
        key="model.context_size",
        type=int,
        default=4096,
        label="Context size",
        description="Upper limit on the context window in tokens (the model's own may be smaller).",
        minimum=512,
        maximum=131072,
    ),
    Setting(
        key="model.threads",
        type=int,
        default=0,
        label="CPU threads",
        description="Threads used to run the model. 0 means one per physical CPU core.",
        minimum=0,
        maximum=256,
    ),
    Setting(
        key="model.low_priority",
        type=bool,
        default=True,
        label="Run the model at low priority",
        description="Load the model and write drafts below normal priority, so the window and "
        "other applications stay responsive while a draft is written.",
    ),
    Setting(
        key="model.max_tokens",
        type=int,
        default=320,
        label="Maximum draft length",
        description="Most tokens the model may write for one draft.",
        minimum=16,
        maximum=4096,
    ),
    Setting(
        key="generation.time_budget_s",
        type=float,
        default=30.0,
        label="Time limit for one draft (seconds)",
        description=(
            "A draft still being written after this many seconds is stopped and marked for "
            "checking; 0 means no limit."
        ),
        minimum=0.0,
        maximum=600.0,
    ),
    Setting(
        key="model.temperature",
        type=float,
        default=0.2,
        label="Temperature",
        description="Randomness of generated drafts. Low values keep drafts close to the sources.",
        minimum=0.0,
        maximum=2.0,
    ),
    Setting(
        key="generation.enabled",
        type=bool,
        default=True,
        label="Generate drafts with the model",
        description="When off, drafts are built from source sentences and no model is loaded.",
    ),
    Setting(
        key="generation.replies",
        type=bool,
        default=False,
        label="Write reply drafts with the model",
        description=(
            "When off (the default), a reply draft is made of the approved sources' own "
            "sentences, each cited, and the model still writes wrap-up notes and rewrites. "
            "On two help centres nobody here wrote, the default model's reply drafts held the "
            "key fact less often than the sources' sentences, took 6 to 8 times as long, and "
            "some that passed every check said what their source does not "
            "(benchmarks/results/model_replies.md). Turn on with a stronger model."
        ),
    ),
    Setting(
        key="generation.prompt_lookup",
        type=bool,
        # Off: slower than plain decoding with SmolLM2 on this CPU (benchmarks/prompt_lookup.py).
        default=False,
        label="Check guessed words in batches (prompt lookup)",
        description="Guess the next words of a draft from the sources and let the model check "
        "several at once (prompt-lookup decoding). The draft is the same; only the speed changes.",
    ),
    Setting(
        key="search.limit",
        type=int,
        default=8,
        label="Search results",
        description="How many knowledge passages a search returns at most.",
        lockable=False,
        minimum=1,
        maximum=50,
    ),
    Setting(
        key="search.min_score",
        type=float,
        default=0.3,
        label="Minimum relevance",
        description="Passages scoring below this relevance (0 to 1) are not shown or used.",
        minimum=0.0,
        maximum=1.0,
    ),
    Setting(
        key="answer.min_score",
        type=float,
        default=0.45,
        label="Relevance needed to draft",
        description=(
            "A reply is drafted only when the best passage is at least this relevant (0 to 1); "
            "below it the answer is 'no approved source covers this'. Calibrated in "
            "benchmarks/grounding.py."
        ),
        minimum=0.0,
        maximum=1.0,
    ),
    Setting(
        key="answer.min_coverage",
        type=float,
        default=0.1,
        label="Question coverage needed to draft",
        description=(
            "A reply is drafted only when the best passages carry at least this share (0 to 1) "
            "of the question's words, weighted by how rare each is in the knowledge. Calibrated "
            "in benchmarks/answerability.py. 0 turns the check off."
        ),
        minimum=0.0,
        maximum=1.0,
    ),
    Setting(
        key="answer.refuse_unknown_names",
        type=bool,
        default=True,
        label="No draft for names the knowledge never mentions",
        description=(
            "When the question names something no approved source mentions (a product, a "
            "company: a capitalised rare word found in no passage), the answer is 'no approved "
            "source covers this'."
        ),
    ),
    Setting(
        key="answer.match_answer_type",
        type=bool,
        default=True,
        label="No draft when the asked-for value is missing",
        description=(
            "When the question asks for a price, a number, a percentage, a date or a "
            "recommendation and none of the best passages states one, the answer is 'no "
            "approved source covers this'. Calibrated in benchmarks/answerability.py."
        ),
    ),
    Setting(
        key="answer.refuse_absent_focus",
        type=bool,
        default=True,
        label="No draft when the passages never name what is asked about",
        description=(
            "When the question is about a named thing ('my Apple Watch', 'with Netflix', "
            "'Cloud Functions') that the best passages never mention, the answer is 'no "
            "approved source covers this'. Calibrated in benchmarks/answerability.py."
        ),
    ),
    Setting(
        key="answer.min_supported",
        type=float,
        default=1.0,
        label="Supported share to keep a model draft",
        description=(
            "When fewer of the model's sentences than this share (0 to 1) are supported by the "
            "sources, the draft is replaced by one made of the sources' own sentences, and the "
            "agent is told why. The default, 1, keeps a model draft only when every sentence is "
            "supported: a weak model's wrong sentence is never shown beside supported ones "
            "(benchmarks/grounding.py). 0 keeps every model draft."
        ),
        minimum=0.0,
        maximum=1.0,
    ),
    Setting(
        key="knowledge.demo_enabled",
        type=bool,
        default=True,
        label="Demo articles",
        description="Index and show the demo knowledge articles bundled with Deskmate.",
    ),
    Setting(
        key="knowledge.allow_user_packs",
        type=bool,
        default=True,
        label="Serve packs not installed by sync",
        description=(
            "Serve knowledge packs found in the data folder that signed sync did not install "
            "(packs built or copied there by hand). Locked off in a managed install unless the "
            "mandatory policy turns it on."
        ),
    ),
    Setting(
        key="sync.url",
        type=str,
        default="",
        label="Pack source",
        description=(
            "Where signed knowledge packs are fetched from: an https:// address, a file:// "
            "folder (a mounted share) or http://127.0.0.1 (tests). Empty turns pack sync off."
        ),
    ),
    Setting(
        key="sync.root",
        type=str,
        default="",
        label="Trusted root metadata",
        description=(
            "Path to the pack source's trusted root.json. Empty means root.json in the "
            "machine policy folder, else resources/sync/root.json of the installation. Under "
            "a machine policy only a mandatory value counts. Sync refuses to run without one: "
            "the first root is never taken from the network."
        ),
    ),
    Setting(
        key="sync.interval_minutes",
        type=int,
        default=240,
        label="Sync every (minutes)",
        description="How often packs are synced in the background. 0 means only on demand.",
        minimum=0,
        maximum=10080,
    ),
    Setting(
        key="sync.warn_after_days",
        type=int,
        default=7,
        label="Warn after (days) without sync",
        description="Show a warning when packs have not been refreshed for this many days.",
        minimum=1,
        maximum=365,
    ),
    Setting(
        key="sync.max_pack_mb",
        type=int,
        default=500,
        label="Largest pack (MB)",
        description=(
            "Largest pack download, and largest unpacked pack, that sync accepts (megabytes)."
        ),
        minimum=1,
        maximum=20000,
    ),
    Setting(
        key="sync.timeout_s",
        type=int,
        default=30,
        label="Download timeout (seconds)",
        description="Longest wait for a connection or between received bytes during sync.",
        minimum=1,
        maximum=600,
    ),
    Setting(
        key="sync.deadline_s",
        type=int,
        default=900,
        label="Sync time limit (seconds)",
        description=(
            "Longest time one whole sync may take, all downloads together. A slower pack "
            "source is stopped and the packs in service stay as they were."
        ),
        minimum=1,
        maximum=86400,
    ),
    Setting(
        key="ui.font_scale",
        type=float,
        default=1.0,
        label="Text size",
        description="Scale factor for all text in the window.",
        lockable=False,
        minimum=0.5,
        maximum=3.0,
    ),
    # --- the agent's window (issue 5) ---
    Setting(
        key="listen.follow_clipboard",
        type=bool,
        default=False,
        label="Follow the clipboard",
        description=(
            "Let the listen panel take text copied to the clipboard as the live conversation. "
            "Off by default; IT can lock it off."
        ),
    ),
    Setting(
        key="listen.audio",
        type=bool,
        default=False,
        label="Listen to call audio",
        description=(
            "Let the listen panel transcribe the call's audio on this PC (the audio never leaves "
            "it and is not kept) and suggest articles from what the customer says. "
            "Off by default; IT can lock it off."
        ),
    ),
    Setting(
        key="listen.draft_each_turn",
        type=bool,
        default=False,
        label="Draft a reply for each customer turn",
        description=(
            "When the customer finishes a turn (heard on the call or typed in the listen panel) "
            "and an article is suggested, draft a checked reply from the top suggestion. Never "
            "while you are drafting or editing, and never for a case routed to a person. "
            "Off by default; IT can lock it."
        ),
    ),
    Setting(
        key="listen.audio_devices.microphone",
        type=str,
        default="",
        label="Microphone",
        description=(
            "The input that hears you when listening to call audio, by its name in the system's "
            "sound settings. Empty: the system's default microphone. IT can set it."
        ),
    ),
    Setting(
        key="listen.audio_devices.loopback",
        type=str,
        default="",
        label="Call playback",
        description=(
            "The input that hears the call's playback (the customer): Stereo Mix or a virtual "
            "cable on Windows, a remapped monitor source on Linux. Empty: the first input named "
            "like one (monitor, loopback, Stereo Mix); none: the microphone only. IT can set it."
        ),
    ),
    Setting(
        key="ui.search_delay_ms",
        type=int,
        default=250,
        label="Search-as-you-type delay (ms)",
        description="How long typing must pause before the results update.",
        lockable=False,
        minimum=0,
        maximum=2000,
    ),
    Setting(
        key="ui.copy_with_sources",
        type=bool,
        default=False,
        label="Copy source titles with the draft",
        description="Append the titles of the cited sources when copying a draft.",
        lockable=False,
    ),
    Setting(
        key="ui.copy_flagged",
        type=bool,
        default=True,
        label="Allow copying a draft that needs checking",
        description=(
            "On: copying a draft with flagged sentences, or a stopped draft, asks first. "
            "Off: such a draft cannot be copied."
        ),
    ),
    # --- the bug tier (issue 13) ---
    Setting(
        key="log.customer_text",
        type=bool,
        default=False,
        label="Write customer text to the log (debugging)",
        description=(
            "Let deskmate.log and crash reports include queries, conversations, drafts and "
            "error messages. Off by default: the log then holds no customer text. Only for "
            "debugging a problem; IT can lock it off."
        ),
    ),
    # --- privacy (issue 17) ---
    Setting(
        key="privacy.feedback_question",
        type=str,
        default="redacted",
        label="Question kept with feedback",
        description=(
            "What a thumbs up or down keeps of the question: redacted (personal data masked on "
            "this PC) or none. The raw question is never kept."
        ),
        choices=("redacted", "none"),
    ),
    Setting(
        key="privacy.audit_question",
        type=str,
        default="none",
        label="Question kept in the audit trail",
        description=(
            "What the audit trail keeps of a question: none (only its length) or redacted "
            "(personal data masked on this PC). The raw question is never kept."
        ),
        choices=("none", "redacted"),
    ),
    Setting(
        key="privacy.phone_regions",
        type=str,
        default="GB,US,DE,FR,IE,AU,CA,IN",
        label="Phone number regions",
        description=(
            "Comma-separated country codes whose national phone formats redaction recognises. "
            "Numbers written with + or 00 are recognised for any country."
        ),
    ),
    Setting(
        key="privacy.redact_wrapup_copy",
        type=bool,
        default=True,
        label="Mask personal data in copied wrap-up notes",
        description=(
            "A wrap-up note copied out of Deskmate (for the CRM) has card numbers, IBANs, "
            "e-mail addresses, phone numbers, national IDs, postcodes and dates of birth "
            "masked on this PC. Replies to the customer are copied as they are."
        ),
    ),
)

_BY_KEY: Mapping[str, Setting] = MappingProxyType({setting.key: setting for setting in SCHEMA})


class Group(NamedTuple):
    """A page of the settings dialog: who it is for, and which settings it holds."""

    id: str
    title: str
    note: str
    keys: tuple[str, ...] = ()  # these first, in this order
    prefixes: tuple[str, ...] = ()  # then the rest whose key starts with one of these


# Agents see their page first; what IT and knowledge admins set is on pages of its own (and is
# usually locked by machine policy). Every setting is on exactly one page (a test checks).
GROUPS: tuple[Group, ...] = (
    Group(
        "agent",
        "For you",
        "How Deskmate looks and behaves for you.",
        keys=(
            "ui.font_scale",
            "ui.copy_with_sources",
            "listen.follow_clipboard",
            "listen.audio",
            "listen.draft_each_turn",
            "listen.audio_devices.microphone",
            "listen.audio_devices.loopback",
            "search.limit",
            "ui.search_delay_ms",
        ),
    ),
    Group(
        "privacy",
        "Privacy and safety",
        "What is kept on this PC and what may be copied. Usually set by your IT department.",
        keys=("ui.copy_flagged", "log.customer_text"),
        prefixes=("privacy.",),
    ),
    Group(
        "knowledge",
        "Knowledge and sync",
        "Where approved knowledge comes from. Set by your knowledge admin or IT department.",
        prefixes=("knowledge.", "sync."),
    ),
    Group(
        "model",
        "Model and answers",
        "The local model and when a draft counts as grounded. For IT and knowledge admins: "
        "changing these changes what agents are shown.",
        prefixes=("model.", "generation.", "answer.", "search."),
    ),
)


def grouped(settings: Sequence[Setting] = SCHEMA) -> list[tuple[Group, list[Setting]]]:
    """The settings on each page of :data:`GROUPS`, in page order; each setting once."""
    left = {setting.key: setting for setting in settings}
    pages = []
    for group in GROUPS:
        members = [left.pop(key) for key in group.keys if key in left]
        members += [left.pop(key) for key in list(left) if key.startswith(group.prefixes)]
        pages.append((group, members))
    if left:  # a new setting that fits no page still shows, on the last one
        pages[-1][1].extend(left.values())
    return pages


def _did_you_mean(key: str) -> str:
    """' (did you mean model.path?)' for a near miss, matching the whole key or its last part."""
    names = {name.rpartition(".")[2]: name for name in _BY_KEY} | {name: name for name in _BY_KEY}
    matches = difflib.get_close_matches(key, list(names), n=1)
    return f" (did you mean {names[matches[0]]}?)" if matches else ""


def lookup(key: str) -> Setting:
    """The setting called *key*; SettingError with a suggestion if there is none."""
    try:
        return _BY_KEY[key]
    except KeyError:
        raise SettingError(
            f"There is no setting called {key!r}{_did_you_mean(key)}.",
            "Run `deskmate config` to list all settings.",
        ) from None


class Effective(NamedTuple):
    """One row of :meth:`Settings.effective`: a setting, its value and where that came from."""

    setting: Setting
    value: SettingValue
    source: Source
    locked: bool


class Settings:
    """The settings in effect for this user and machine. ``Settings(paths)`` holds only defaults."""

    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self.problems: list[str] = []
        self._user: dict[str, SettingValue] = {}
        self._policy: dict[str, SettingValue] = {}
        self._recommended: dict[str, SettingValue] = {}
        self.machine = managed.MachinePolicy()
        # User-file entries this version cannot apply; written back on save so nothing is lost.
        self._kept: dict[str, object] = {}

    @classmethod
    def load(cls, paths: Paths, trust: managed.Trust | None = None) -> Settings:
        """Read the user settings and the machine policy. Never raises for a bad file.

        *trust* says who may own policy files (tests inject it; see :class:`managed.Trust`)."""
        settings = cls(paths)
        settings._load_user()
        settings._load_policy(trust)
        return settings

    def get(self, key: str) -> SettingValue:
        """The effective value: policy if set there, else the user's, else the default."""
        source = self.source(key)
        if source == "default":
            return _BY_KEY[key].default
        layers = {"policy": self._policy, "user": self._user, "recommended": self._recommended}
        return layers[source][key]

    def __getitem__(self, key: str) -> SettingValue:
        return self.get(key)

    def source(self, key: str) -> Source:
        """Which layer the effective value of *key* comes from."""
        lookup(key)
        for name, layer in (("policy", self._policy), ("user", self._user)):
            if key in layer:
                return name  # type: ignore[return-value]
        return "recommended" if key in self._recommended else "default"

    def is_locked(self, key: str) -> bool:
        """Whether machine policy fixes *key*, so the user cannot change it."""
        lookup(key)
        return key in self._policy

    def policy_source(self, key: str) -> str:
        """Which policy source sets *key* in force (a file, a registry key), else ''."""
        for row in reversed(self.machine.rows):
            in_force = row.status in ("applied", "conflict", "fail-safe")
            if row.key == key and row.level == "mandatory" and in_force:
                return row.source
        return ""

    def set(self, key: str, value: object) -> SettingValue:
        """Set the user's value for *key* (text is parsed) and return it as stored. Call save()."""
        setting = lookup(key)
        if key in self._policy:
            raise SettingError(
                f"{key} is set by your IT department (machine policy: {self.policy_source(key)}) "
                "and cannot be changed here.",
                "Ask IT if you need a different value.",
            )
        self._user[key] = setting.coerce(value)
        self._kept.pop(key, None)
        return self._user[key]

    def reset(self, key: str) -> None:
        """Remove the user's value for *key* (also an unknown key kept from the file)."""
        if key not in self._kept:
            lookup(key)
        self._user.pop(key, None)
        self._kept.pop(key, None)

    def save(self) -> None:
        """Write the user's values (and kept unknown entries) to the settings file atomically."""
        path = self.paths.settings_file
        text = json.dumps({**self._kept, **self._user}, indent=2, sort_keys=True) + "\n"
        try:
            atomic_write_text(path, text)
        except OSError as err:
            fix = "Check that you may write to that folder."
            raise SettingError(f"Could not save settings to {path}: {err}.", fix) from err

    def effective(self) -> list[Effective]:
        """Every setting in schema order with its value, source and lock state."""
        return [
            Effective(s, self.get(s.key), self.source(s.key), self.is_locked(s.key)) for s in SCHEMA
        ]

    def _load_user(self) -> None:
        path = self.paths.settings_file
        try:
            entries = _json_object(_read_json(path))
        except (OSError, ValueError) as err:
            self._set_aside(path, err)
            return
        for key, value in entries.items():
            try:
                self._user[key] = lookup(key).validate(value)
            except SettingError as err:
                self._kept[key] = value
                self.problems.append(
                    f"{path}: {err.message} It is ignored, but kept in the file (a newer Deskmate "
                    "may use it)."
                )

    def _set_aside(self, path: Path, error: Exception) -> None:
        """Move a broken user file out of the way so that saving cannot destroy it."""
        # Microseconds, because rename() would silently replace an earlier broken copy.
        broken = path.with_name(f"{path.name}.broken-{datetime.now():%Y%m%d-%H%M%S-%f}")
        try:
            path.rename(broken)
            kept = f"It was kept as {broken}; fix it and rename it to {path.name} to restore it."
        except OSError as err:
            kept = f"It could not be moved aside ({err}); fix or delete it."
        self.problems.append(
            f"Your settings file {path} could not be read ({error}); defaults are used. {kept}"
        )

    def _load_policy(self, trust: managed.Trust | None = None) -> None:
        kinds = {setting.key: setting.type for setting in SCHEMA}
        self.machine = managed.load(self.paths, _validate_policy, kinds, trust)
        self.problems.extend(self.machine.problems)
        self._policy = {k: v for k, v in self.machine.mandatory.items() if _is_value(v)}
        self._recommended = {k: v for k, v in self.machine.recommended.items() if _is_value(v)}


def _is_value(value: object) -> TypeGuard[SettingValue]:
    return isinstance(value, (str, int, float, bool))


def _validate_policy(level: managed.Level, key: str, value: object) -> SettingValue:
    """A policy value checked against the schema: LookupError if unknown, else ValueError."""
    if key not in _BY_KEY:
        raise LookupError(f"There is no setting called {key!r}{_did_you_mean(key)}.")
    setting = _BY_KEY[key]
    if level == "mandatory" and not setting.lockable:
        raise ValueError(f"{key} is a personal setting that mandatory policy cannot lock.")
    try:
        return setting.validate(value)
    except SettingError as err:
        raise ValueError(err.message) from None


class _NotAnObjectError(ValueError):
    """The file is valid JSON, but not the JSON object it must be."""


def _read_json(path: Path) -> object:
    """The JSON document in *path*, {} if there is no file; OSError/ValueError if unusable."""
    try:
        return parse_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def _json_object(data: object) -> dict[str, object]:
    """*data* if it is a JSON object of settings; ValueError otherwise."""
    if not isinstance(data, dict):
        raise _NotAnObjectError("the settings in it are not a JSON object")
    return data
