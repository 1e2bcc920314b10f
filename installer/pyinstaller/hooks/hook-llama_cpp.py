"""llama-cpp-python loads its shared libraries with ctypes from ``llama_cpp/lib`` beside its
own modules (``llama_cpp/_ctypes_extensions.py``), so PyInstaller's import analysis cannot see
them: collect libllama.so, libggml*.so (and libmtmd.so) into the same relative folder."""

from PyInstaller.utils.hooks import collect_dynamic_libs

# (source, destination folder) pairs; the destination is ``llama_cpp/lib`` as in the wheel.
binaries = collect_dynamic_libs("llama_cpp")
# The server and chat-format extras are optional; nothing in Deskmate uses them.
excludedimports = ["llama_cpp.server", "uvicorn", "fastapi", "starlette", "sse_starlette"]
