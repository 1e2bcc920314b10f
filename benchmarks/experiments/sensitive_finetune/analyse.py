"""Per-topic fold-f recall and errors, from the saved fold-f probabilities (no retraining)."""

import json

import numpy as np
from common import OUT, decide, split

_, _, ev, classes = split((), ("f",))
gold = np.array([classes.index(r["label"]) for r in ev])
choice = json.loads((OUT / "b_choice.json").read_text())
a_val = json.loads((OUT / "a_val.json").read_text())["val_e"]
for name, path, t in (("B", "b_f_prob.npy", choice["best_t"]), ("A", "a_f_prob.npy", 0.5)):
    prob = np.load(OUT / path)
    pred = decide(prob, t)
    print(f"== {name} at t={t}")
    for c in range(1, len(classes)):
        m = gold == c
        print(
            f"  {classes[c]:15s} recall {np.mean(pred[m] == c):.2f}  ({(pred[m] == c).sum()}/{m.sum()})"
        )
    if name == "B":
        wrong = [i for i in range(len(ev)) if pred[i] != gold[i]]
        print(f"  {len(wrong)} wrong of {len(ev)}")
        for i in wrong:
            top = prob[i, 1:].argmax() + 1
            print(
                f"  [{ev[i]['id']}] gold={classes[gold[i]]} pred={classes[pred[i]]} "
                f"(top topic {classes[top]} p={prob[i, top]:.2f}): {ev[i]['message']!r}"
            )
