"""Method B: fine-tune all-MiniLM-L6-v2 end to end + linear head (mean pooling), 9 classes.

    nice -n 10 python method_b.py val LR EPOCHS SEED   # train yaml+a-d, eval fold e after each epoch
    nice -n 10 python method_b.py lofo LR EPOCHS HELD SEED  # train yaml+(a-e minus HELD), eval HELD
    nice -n 10 python method_b.py final LR EPOCHS SEED # train yaml+a-e, eval fold f ONCE, save model

Constant learning rate after a 10% linear warm-up of the first epoch, so the model evaluated
after epoch k is exactly the model one would get by training k epochs. AdamW, weight decay 0.01,
batch 16, max_len 128, dropout 0.1 before the head, head lr 1e-3 (the head starts from zero).
Class-weighted cross-entropy: ordinary holds half the weight, the 8 topics share the other half
equally (same weighting as scripts/train-sensitive.py).
"""

from __future__ import annotations

import json
import os
import random
import sys
import time

import numpy as np
import torch
from common import MODEL_DIR, OUT, choose_threshold, metrics, split
from transformers import AutoModel, AutoTokenizer

torch.set_num_threads(
    int(os.environ.get("THREADS", "1"))
)  # 2 threads ran 10x slower here (cores shared)
BATCH = 16
MAX_LEN = 128
HEAD_LR = 1e-3


class Clf(torch.nn.Module):
    def __init__(self, path, n):
        super().__init__()
        self.enc = AutoModel.from_pretrained(path)
        self.drop = torch.nn.Dropout(0.1)
        self.head = torch.nn.Linear(self.enc.config.hidden_size, n)
        torch.nn.init.zeros_(self.head.weight)
        torch.nn.init.zeros_(self.head.bias)

    def forward(self, ids, mask):
        h = self.enc(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).to(h.dtype)
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return self.head(self.drop(pooled))


def class_weights(y, n, ordinary_share=0.5):
    counts = np.bincount(y, minlength=n)
    share = np.where(np.arange(n) == 0, ordinary_share, (1 - ordinary_share) / (n - 1))
    w = share / np.maximum(counts, 1)
    return torch.tensor(w / w.mean(), dtype=torch.float32)


@torch.no_grad()
def predict(model, tok, texts, bs=64):
    model.eval()
    out = []
    for i in range(0, len(texts), bs):
        b = tok(
            texts[i : i + bs],
            padding=True,
            truncation=True,
            max_length=MAX_LEN,
            return_tensors="pt",
        )
        out.append(torch.softmax(model(b["input_ids"], b["attention_mask"]), -1).numpy())
    return np.concatenate(out)


def train(tr_t, tr_l, classes, lr, epochs, seed, eval_fn=None):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    tok = AutoTokenizer.from_pretrained(str(MODEL_DIR))
    model = Clf(str(MODEL_DIR), len(classes))
    y = np.array([classes.index(l) for l in tr_l])
    loss_fn = torch.nn.CrossEntropyLoss(weight=class_weights(y, len(classes)))
    opt = torch.optim.AdamW(
        [
            {"params": model.enc.parameters(), "lr": lr},
            {"params": model.head.parameters(), "lr": HEAD_LR},
        ],
        weight_decay=0.01,
    )
    steps_per_epoch = (len(tr_t) + BATCH - 1) // BATCH
    warm = max(1, steps_per_epoch // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm))
    log = []
    for ep in range(1, epochs + 1):
        model.train()
        order = np.random.permutation(len(tr_t))
        t0, tot = time.time(), 0.0
        for i in range(0, len(order), BATCH):
            idx = order[i : i + BATCH]
            b = tok(
                [tr_t[j] for j in idx],
                padding=True,
                truncation=True,
                max_length=MAX_LEN,
                return_tensors="pt",
            )
            loss = loss_fn(model(b["input_ids"], b["attention_mask"]), torch.tensor(y[idx]))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            tot += loss.item() * len(idx)
        entry = {"epoch": ep, "train_loss": tot / len(order), "sec": round(time.time() - t0, 1)}
        if eval_fn is not None:
            entry.update(eval_fn(model, tok))
        log.append(entry)
        print(json.dumps(entry), flush=True)
    return model, tok, log


def main():
    mode, lr, epochs = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    if mode in ("val", "lofo"):
        if mode == "val":
            seed = int(sys.argv[4])
            train_folds, held = ("a", "b", "c", "d"), "e"
        else:
            held, seed = sys.argv[4], int(sys.argv[5])
            assert held in "abcde"
            train_folds = tuple(f for f in "abcde" if f != held)
        tr_t, tr_l, ev, classes = split(train_folds, (held,))
        gold = np.array([classes.index(r["label"]) for r in ev])
        texts = [r["message"] for r in ev]
        probs = {}

        def eval_fn(model, tok):
            p = predict(model, tok, texts)
            probs[len(probs) + 1] = p
            bt, st = choose_threshold(p, gold)
            return {
                "t0.5": metrics(p, gold, 0.5),
                "best_t": bt,
                "best": metrics(p, gold, bt),
                "strict_t": st,
                "strict": metrics(p, gold, st),
            }

        print(f"train {len(tr_t)} eval {len(ev)} (fold {held}) lr {lr} seed {seed}", flush=True)
        _, _, log = train(tr_t, tr_l, classes, lr, epochs, seed, eval_fn)
        tag = f"{mode}_{held}_lr{lr}_s{seed}"
        (OUT / "runs").mkdir(exist_ok=True)
        (OUT / "runs" / f"{tag}.json").write_text(json.dumps(log, indent=1))
        np.savez(OUT / "runs" / f"{tag}.npz", gold=gold, **{f"ep{k}": v for k, v in probs.items()})
    elif mode == "final":
        seed = int(sys.argv[4])
        choice = json.loads((OUT / "b_choice.json").read_text())
        assert choice["lr"] == lr and choice["epochs"] == epochs
        tr_t, tr_l, ev, classes = split(("a", "b", "c", "d", "e"), ("f",))
        print(
            f"FINAL train {len(tr_t)} eval {len(ev)} (fold f) lr {lr} epochs {epochs}", flush=True
        )
        model, tok, log = train(tr_t, tr_l, classes, lr, epochs, seed)
        texts = [r["message"] for r in ev]
        gold = np.array([classes.index(r["label"]) for r in ev])
        prob = predict(model, tok, texts)
        res = {"n_train": len(tr_t), "n_eval": len(ev), "train_log": log}
        for name in ("best_t", "strict_t"):
            t = choice[name]
            res[name] = {"t": t, "routed_false": metrics(prob, gold, t)}
        res["t0.5"] = {"t": 0.5, "routed_false": metrics(prob, gold, 0.5)}
        model.eval()
        with torch.no_grad():
            predict(model, tok, texts[:5], bs=1)
            t0 = time.perf_counter()
            for m in texts[:100]:
                predict(model, tok, [m], bs=1)
        res["latency_ms_per_msg"] = (time.perf_counter() - t0) / 100 * 1000
        print(json.dumps({k: v for k, v in res.items() if k != "train_log"}, indent=1))
        (OUT / "b_final.json").write_text(json.dumps(res, indent=1))
        np.save(OUT / "b_f_prob.npy", prob)
        # save model to a staging folder; kept as model/ only if B clearly beats A
        stage = OUT / "model_staging"
        model.enc.save_pretrained(stage)
        tok.save_pretrained(stage)
        torch.save(model.head.state_dict(), stage / "head.pt")
        (stage / "classes.json").write_text(
            json.dumps(
                {
                    "classes": classes,
                    "pooling": "mean",
                    "threshold": choice["best_t"],
                    "strict_threshold": choice["strict_t"],
                    "max_len": MAX_LEN,
                }
            )
        )


if __name__ == "__main__":
    main()
