"""``deskmate doctor`` reports the speech model when listening to call audio is on: where it is,
that it loads, and a clear error with a fix when it is missing or broken."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from desktop.core import doctor
from desktop.core.errors import ModelError
from desktop.core.paths import Paths
from desktop.core.settings import Settings
from desktop.core.speech import whisper


def _context(listen_audio: bool) -> Any:
    settings = Settings.load(Paths.from_env())
    settings.set("listen.audio", listen_audio)
    return SimpleNamespace(settings=settings)


def test_off_means_no_model_is_loaded(deskmate_home: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(whisper, "MODEL_PACKAGE", "no_such_speech_package")
    check = doctor.check_speech(_context(False))
    assert check.status == "ok" and "off (listen.audio)" in check.message
    assert "speech model" in [name for name, _ in doctor.CHECKS]


@pytest.mark.slow
def test_on_the_model_is_found_and_loads(deskmate_home: Path) -> None:
    check = doctor.check_speech(_context(True))
    assert check.status == "ok", check
    assert str(whisper.model_dir()) in check.message and "loaded in" in check.message


def test_a_missing_model_is_an_error_with_a_fix(deskmate_home: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(whisper, "MODEL_PACKAGE", "no_such_speech_package")
    with pytest.raises(ModelError, match="speech model is not installed") as err:
        doctor.check_speech(_context(True))
    assert "Reinstall" in err.value.fix


@pytest.mark.slow
def test_a_damaged_model_is_an_error_with_a_fix(
    deskmate_home: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    broken = tmp_path / "model"
    broken.mkdir()
    (broken / "model.bin").write_bytes(b"not a model")
    monkeypatch.setattr(whisper, "model_dir", lambda: broken)
    with pytest.raises(ModelError, match="could not be loaded") as err:
        doctor.check_speech(_context(True))
    assert "Reinstall" in err.value.fix
