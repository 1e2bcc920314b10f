"""The settings dialog opens on the agent's page; IT's and admins' settings are on pages of their
own, and locked values stay locked there (issue 14, finding 9)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from desktop.core.paths import Paths
from desktop.core.settings import Settings
from desktop.gui.settings_dialog import LOCKED_TEXT, SettingsDialog

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


def _page_of(dialog: SettingsDialog, key: str) -> int:
    editor = dialog.editors[key]
    for index in range(dialog.tabs.count()):
        if dialog.tabs.widget(index).isAncestorOf(editor):
            return index
    raise AssertionError(f"{key} is on no page")


def test_the_dialog_opens_on_the_agents_page(qtbot: Any, deskmate_home: Path) -> None:
    paths = Paths.from_env()
    paths.policy.write_text(json.dumps({"settings": {"model.path": "/opt/m.gguf"}}), "utf-8")
    dialog = SettingsDialog(Settings.load(paths))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    tabs = dialog.tabs
    titles = [tabs.tabText(i) for i in range(tabs.count())]
    assert titles == ["For you", "Privacy and safety", "Knowledge and sync", "Model and answers"]
    assert tabs.currentIndex() == 0
    assert _page_of(dialog, "ui.font_scale") == 0
    assert dialog.editors["ui.font_scale"].isVisible()
    assert not dialog.editors["model.allowed_sha256"].isVisible()  # not on the agent's page
    model_page = _page_of(dialog, "model.path")
    assert model_page != 0 and tabs.tabText(model_page) == "Model and answers"
    dialog.show_page("model.path")
    assert dialog.editors["model.path"].isVisible()
    assert not dialog.editors["model.path"].isEnabled()
    assert LOCKED_TEXT in dialog.locked_labels["model.path"].text()

    dialog.show_page("ui.font_scale")
    dialog.editors["ui.font_scale"].setValue(1.25)
    dialog.save()
    saved = json.loads(paths.settings_file.read_text(encoding="utf-8"))
    assert saved == {"ui.font_scale": 1.25}
