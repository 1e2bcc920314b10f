"""The Policies page (issue 16): every policy with level, source and status, and Reload."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from desktop.gui.parts.policies import COLUMNS, PoliciesPart

pytestmark = [pytest.mark.slow, pytest.mark.qt_log_ignore("propagateSizeHints")]


def _table(dialog: Any) -> dict[str, dict[str, str]]:
    rows = {}
    for row in range(dialog.table.rowCount()):
        cells = [dialog.table.item(row, column).text() for column in range(len(COLUMNS))]
        rows[f"{cells[0]}@{Path(cells[3]).name}"] = dict(zip(COLUMNS, cells, strict=True))
    return rows


def test_the_policies_page_lists_each_policy_and_reload_applies_a_change(
    qtbot: Any, make_window: Any, context: Any
) -> None:
    managed = Path(os.environ["DESKMATE_POLICY_DIR"], "managed")
    (managed / "10-it.json").write_text(json.dumps({"generation.enabled": False}))
    (managed / "20-bad.json").write_text('{"model.threads": "four"}')
    (managed.parent / "recommended" / "r.json").write_text(json.dumps({"search.limit": 7}))
    window = make_window(context)  # the context read no policy: the page shows what is read
    part = window.part(PoliciesPart)
    assert part.button.isVisible()

    dialog = part.open_policies()
    assert "0 source(s)" in dialog.summary.text() and dialog.table.rowCount() == 0

    def reloaded() -> bool:
        return "generation.enabled@10-it.json" in _table(dialog)

    with qtbot.waitSignal(window.shell.settings_changed, timeout=30_000):
        dialog.reload_button.click()
    qtbot.waitUntil(reloaded)
    rows = _table(dialog)
    assert rows["generation.enabled@10-it.json"]["Status"] == "applied"
    assert rows["generation.enabled@10-it.json"]["Level"] == "mandatory"
    assert rows["model.threads@20-bad.json"]["Status"] == "invalid"
    assert rows["search.limit@r.json"]["Level"] == "recommended"
    assert "model.threads" in dialog.problems.text()
    # Reload put the policy in force for the whole window.
    assert context.settings.is_locked("generation.enabled")
    assert context.settings["generation.enabled"] is False
