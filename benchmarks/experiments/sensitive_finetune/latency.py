"""Per-message CPU latency, batch of one, 1 thread, same 100 fold-f texts, A vs B forward."""

import time

import numpy as np
import torch

torch.set_num_threads(1)
from common import MODEL_DIR, split
from sentence_transformers import SentenceTransformer
from transformers import AutoModel, AutoTokenizer

_, _, ev, _ = split((), ("f",))
texts = [r["message"] for r in ev][:100]
st = SentenceTransformer(str(MODEL_DIR), device="cpu")
W = np.zeros((384, 9))
tok = AutoTokenizer.from_pretrained(str(MODEL_DIR))
enc = AutoModel.from_pretrained(str(MODEL_DIR)).eval()
head = torch.nn.Linear(384, 9)


def a(m):
    return st.encode([m], normalize_embeddings=True, show_progress_bar=False) @ W


@torch.no_grad()
def b(m):
    x = tok([m], truncation=True, max_length=128, return_tensors="pt")
    h = enc(**x).last_hidden_state
    return torch.softmax(head(h.mean(1)), -1)


for name, f in (("A", a), ("B", b), ("A", a), ("B", b)):
    for m in texts[:5]:
        f(m)
    t0 = time.perf_counter()
    for m in texts:
        f(m)
    print(name, round((time.perf_counter() - t0) / len(texts) * 1000, 1), "ms/msg")
