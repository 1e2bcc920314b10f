"""The settings button and dialog, and the font scale they set."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication, QPushButton

from desktop.gui.parts.base import Part, Shell, Shortcut
from desktop.gui.settings_dialog import SettingsDialog


class SettingsPart(Part):
    """Opens the settings dialog; once it is saved, the other parts re-read what they show
    (:attr:`Shell.settings_changed`) and the font follows ``ui.font_scale``."""

    name = "settings"
    shortcuts = (Shortcut("Ctrl+,", "settings", "open_settings"),)

    def __init__(self, shell: Shell) -> None:
        super().__init__(shell)
        self.button = QPushButton("Settings…")
        self.button.setAccessibleName("Settings")
        self.button.clicked.connect(self.open_settings)
        self.tools = [self.button]

    def open_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(self.shell.context.settings, self.button.window())
        dialog.accepted.connect(self.settings_saved)
        dialog.open()
        return dialog

    def settings_saved(self) -> None:
        """What OK in the settings dialog does once the settings are saved."""
        apply_font_scale(float(self.shell.context.settings.get("ui.font_scale")))
        self.shell.settings_changed.emit()
        self.shell.say("Settings saved.", 5000)


_BASE_POINT_SIZE: list[float] = []


def apply_font_scale(scale: float) -> None:
    """Scale the application font from the system's own size (so it follows the OS too)."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return
    font = app.font()
    if not _BASE_POINT_SIZE:
        _BASE_POINT_SIZE.append(font.pointSizeF())
    if _BASE_POINT_SIZE[0] > 0:
        font.setPointSizeF(_BASE_POINT_SIZE[0] * scale)
        app.setFont(font)
