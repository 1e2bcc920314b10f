"""The settings dialog's pages: the agent's settings first, IT's and admins' apart (issue 14,
finding 9: 24 ungrouped fields with the three an agent needs at the bottom)."""

from __future__ import annotations

from desktop.core import settings


def test_every_setting_is_on_exactly_one_page() -> None:
    pages = settings.grouped()
    keys = [s.key for _, members in pages for s in members]
    assert sorted(keys) == sorted(s.key for s in settings.SCHEMA)
    assert len(keys) == len(set(keys))


def test_the_agents_page_comes_first_and_holds_only_what_an_agent_changes() -> None:
    pages = settings.grouped()
    first, members = pages[0]
    assert first.id == "agent"
    assert [s.key for s in members][:3] == [
        "ui.font_scale",
        "ui.copy_with_sources",
        "listen.follow_clipboard",
    ]
    admin_prefixes = ("model.", "generation.", "answer.", "sync.", "knowledge.", "privacy.")
    assert not [s.key for s in members if s.key.startswith(admin_prefixes)]
    by_id = {group.id: [s.key for s in ms] for group, ms in pages}
    assert "model.allowed_sha256" in by_id["model"]
    assert "answer.min_score" in by_id["model"]
    assert "sync.url" in by_id["knowledge"]
    assert "ui.copy_flagged" in by_id["privacy"]


def test_a_setting_no_page_names_still_shows_on_the_last_page() -> None:
    extra = settings.Setting(key="zz.new", type=bool, default=False, label="New", description="")
    pages = settings.grouped((*settings.SCHEMA, extra))
    assert pages[-1][1][-1].key == "zz.new"
