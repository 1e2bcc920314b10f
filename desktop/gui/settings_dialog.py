"""The settings dialog, generated from the settings schema: one control per setting.

Values locked by machine policy are shown disabled with "Set by your IT department". Nothing is
wired by hand per setting: a new entry in ``SCHEMA`` appears here by itself.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.core.errors import SettingError
from desktop.core.settings import Effective, Setting, Settings, SettingValue, grouped
from desktop.gui.parts.devices import device_picker

LOCKED_TEXT = "Set by your IT department"
# Settings naming an audio input: a list of this PC's devices (desktop/gui/parts/capture.py).
DEVICE_KEYS = ("listen.audio_devices.microphone", "listen.audio_devices.loopback")


def _editor(setting: Setting, value: SettingValue, devices: Sequence[str] = ()) -> QWidget:
    widget: QWidget
    if setting.key in DEVICE_KEYS:
        widget = device_picker(setting.key, str(value), devices)
    elif setting.choices:
        combo = QComboBox()
        for choice in setting.choices:
            combo.addItem(str(choice), choice)
        combo.setCurrentIndex(max(0, combo.findData(value)))
        widget = combo
    elif setting.type is bool:
        box = QCheckBox()
        box.setChecked(bool(value))
        widget = box
    elif setting.type is int:
        spin = QSpinBox()
        spin.setRange(int(setting.minimum or 0), int(setting.maximum or 2**31 - 1))
        spin.setValue(int(value))
        widget = spin
    elif setting.type is float:
        dspin = QDoubleSpinBox()
        dspin.setDecimals(2)
        dspin.setSingleStep(0.05)
        dspin.setRange(float(setting.minimum or 0.0), float(setting.maximum or 1e9))
        dspin.setValue(float(value))
        widget = dspin
    else:
        widget = QLineEdit(str(value))
    widget.setAccessibleName(setting.label)
    widget.setToolTip(setting.description)
    return widget


def editor_value(widget: QWidget) -> SettingValue:
    if isinstance(widget, QComboBox):
        data: SettingValue = widget.currentData()
        return data
    if isinstance(widget, QCheckBox):
        return widget.isChecked()
    if isinstance(widget, QSpinBox):
        return widget.value()
    if isinstance(widget, QDoubleSpinBox):
        return round(widget.value(), 4)
    assert isinstance(widget, QLineEdit)
    return widget.text()


class SettingsDialog(QDialog):
    """Edit the user's settings; policy-locked ones are visible but cannot be changed."""

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.setWindowTitle("Deskmate settings")
        self.setAccessibleName("Settings")
        self.editors: dict[str, QWidget] = {}
        self.locked_labels: dict[str, QLabel] = {}
        rows = {row.setting.key: row for row in settings.effective()}
        # One page per audience: the agent's own settings first, IT's and admins' apart.
        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Settings pages")
        self.pages: dict[str, list[str]] = {}
        for group, members in grouped():
            keys = [setting.key for setting in members if setting.key in rows]
            self.pages[group.id] = keys
            self.tabs.addTab(self._page(group.note, [rows[key] for key in keys]), group.title)
        self.error = QLabel("")
        self.error.setWordWrap(True)
        self.error.setAccessibleName("Settings problem")
        note = QLabel("Model and knowledge settings apply the next time Deskmate starts.")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(note)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.resize(680, 620)

    def _page(self, note: str, rows: list[Effective]) -> QWidget:
        form = QFormLayout()
        for row in rows:
            form.addRow(*self._row(row))
        inner = QWidget()
        inner.setLayout(form)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        about = QLabel(note)
        about.setWordWrap(True)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(about)
        layout.addWidget(scroll, 1)
        return page

    def _row(self, row: Effective) -> tuple[QLabel, QWidget]:
        editor = _editor(row.setting, row.value, self._devices(row.setting.key))
        self.editors[row.setting.key] = editor
        field: QWidget = editor
        if row.locked:
            editor.setEnabled(False)
            note = QLabel(f"<i>{LOCKED_TEXT}</i>")
            note.setAccessibleName(f"{row.setting.label}: {LOCKED_TEXT}")
            self.locked_labels[row.setting.key] = note
            field = QWidget()
            line = QHBoxLayout(field)
            line.setContentsMargins(0, 0, 0, 0)
            line.addWidget(editor)
            line.addWidget(note)
            line.addStretch(1)
        label = QLabel(row.setting.label)
        label.setToolTip(row.setting.description)
        label.setBuddy(editor)
        return label, field

    def _devices(self, key: str) -> list[str]:
        """This PC's audio inputs for a device setting, listed only where listening to call
        audio is on (listing them loads Qt Multimedia and asks the sound server)."""
        if key not in DEVICE_KEYS or not self.settings.get("listen.audio"):
            return []
        from desktop.gui.parts.capture import input_names

        return input_names()

    def show_page(self, key: str) -> None:
        """Show the page that holds the setting *key*."""
        for index, keys in enumerate(self.pages.values()):
            if key in keys:
                self.tabs.setCurrentIndex(index)

    def changes(self) -> dict[str, Any]:
        """Settings whose control differs from the effective value (locked ones never do)."""
        out = {}
        for key, editor in self.editors.items():
            if self.settings.is_locked(key):
                continue
            value = editor_value(editor)
            if value != self.settings.get(key):
                out[key] = value
        return out

    def save(self) -> None:
        try:
            for key, value in self.changes().items():
                self.settings.set(key, value)
            self.settings.save()
        except SettingError as err:
            self.error.setText(f"<b>{html.escape(err.message)}</b> {html.escape(err.fix)}")
            return
        self.accept()
