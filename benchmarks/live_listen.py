"""Live listening: generated calls played in real time into the real window (offscreen).

    .venv/bin/python benchmarks/live_listen.py [--speed 1.0] [--calls N]
        [--compare-vocabulary] [--draft-each-turn]

Each call of CALLS is spoken by espeak-ng (several voices and speeds; agent on the left channel,
customer on the right), resampled by sox, and played at the speed of a live call (``Paced``)
through the listen panel's "Listen to call audio" with the file standing in for the microphone.
The calls were written for this benchmark: customer questions about the demo pack (with its
prices and product names) and about the Rackspace corpus (product names, taken from
split=="tune" questions only), and two sensitive calls that must raise the route banner.

Measured, per customer question turn: word error rate of the final text (and of every turn),
whether the expected article is in the top 3 suggestions shown, and the time from the end of the
customer's speech (the moment its last loud 0.1 s frame was played) to the final text, to the
suggestions shown and to the route banner. UI stalls: the longest gap between ticks of a 10 ms
QTimer on the UI thread while the calls play (benchmarks/ui_responsiveness.py ``Ticks``).
``--compare-vocabulary`` plays every call twice in the same run, one after the other, without
and with the packs' words given to Whisper (desktop/core/speech/vocabulary.py), and reports both.
``--draft-each-turn`` turns on ``listen.draft_each_turn`` and also times end of turn -> draft
shown (extractive drafts), and counts drafts for routed calls (must be 0).
Targets: <= 2 s to suggestions, no stall > 50 ms. Results:
benchmarks/results/live_listen.{json,md}.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import ROOT, corpus_pack, isolated_home, percentile, write_result

sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# A home of its own that is kept (gitignored), so the demo pack is built once, not every run.
os.environ.setdefault("DESKMATE_HOME", str(ROOT / "benchmarks" / ".work-live" / "home"))
Path(os.environ["DESKMATE_HOME"]).mkdir(parents=True, exist_ok=True)
isolated_home()

import speechkit  # noqa: E402  (tests/speechkit.py: espeak-ng + sox)
from ui_responsiveness import Ticks  # noqa: E402

from desktop.core.context import AppContext  # noqa: E402
from desktop.core.paths import Paths  # noqa: E402
from desktop.core.settings import Settings  # noqa: E402

TARGET_SUGGEST_S = 2.0
DRAFTS = {"each_turn": False}  # --draft-each-turn: a draft per customer turn, timed
TARGET_GAP_MS = 50.0
HELLO = ("agent", "Thanks for calling, you're speaking with Sam. How can I help?")
CHECK = ("agent", "Let me check that for you.")
VOICES = [
    ("en-us", 150),
    ("en-gb", 175),
    ("en-gb-scotland", 160),
    ("en-029", 140),
    ("en-gb-x-rp", 185),
]

# (corpus, customer question, relevant articles (any counts), route topic expected or None)
CALLS: list[tuple[str, str, tuple[str, ...], str | None]] = [
    (
        "demo",
        "My phone arrived with a cracked screen, can I send it back?",
        ("delivery-returns/return-damaged-or-faulty-item.md",),
        None,
    ),
    (
        "demo",
        "I forgot my password and now I can't sign in to my account.",
        ("account-access/reset-your-password.md", "account-access/locked-account.md"),
        None,
    ),
    (
        "demo",
        "Why is there a late payment fee of 4 pounds 99 on my bill this month?",
        ("billing/late-payment-fees.html",),
        None,
    ),
    (
        "demo",
        "I'm going to Spain for 2 weeks, how much will it cost to use my phone abroad?",
        ("plans/roaming-abroad.html",),
        None,
    ),
    (
        "demo",
        "I'm switching to you and I want to keep my old number. How do I move it over?",
        ("plans/port-your-number.md",),
        None,
    ),
    (
        "demo",
        "My broadband has been really slow every evening for about a week.",
        ("devices/slow-broadband-troubleshooting.md",),
        None,
    ),
    (
        "demo",
        "I lost my SIM card yesterday, can you send me a new one?",
        ("devices/sim-replacement.md",),
        None,
    ),
    (
        "demo",
        "I'm moving house next month. Can I take my broadband with me?",
        ("plans/moving-home-broadband.html",),
        None,
    ),
    (
        "rackspace",
        "How many Cloud Block Storage volumes can I attach to one server?",
        (
            "cloud-block-storage/cloud-block-storage-faq/index.md",
            "cloud-servers/design-and-build-cloud-servers-for-stability/index.md",
            "cloud-block-storage/cloud-block-storage-overview/index.md",
        ),
        None,
    ),
    (
        "rackspace",
        "Should I do a soft reboot or a hard reboot on my cloud server?",
        ("cloud-servers/reboot-a-server/index.md",),
        None,
    ),
    (
        "rackspace",
        "Does Cloud DNS cost extra on top of our cloud account?",
        ("cloud-dns/cloud-dns-faq/index.md",),
        None,
    ),
    (
        "rackspace",
        "Can we get a catch all address, so mail sent to misspelled names at our "
        "domain still lands somewhere?",
        ("rackspace-email/set-an-email-catch-all-address/index.md",),
        None,
    ),
    (
        "rackspace",
        "How many people can I email in one day from a single address?",
        ("rackspace-email/rackspace-hosted-email-system-daily-sending-limit/index.md",),
        None,
    ),
    (
        "demo",
        "Someone has used my card without permission, there are 3 payments I never made.",
        (),
        "fraud",
    ),
    ("demo", "I have lost my job and I don't see the point in going on any more.", (), "self_harm"),
]

ONES = [
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
    *("eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen"),
    *("eighteen", "nineteen"),
]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def say_number(n: int) -> str:
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return ONES[n // 100] + " hundred" + ("" if not rest else " " + say_number(rest))
    return " ".join(say_number(int(d)) for d in str(n))


def words(text: str) -> list[str]:
    text = text.lower().replace("£", " ").replace("%", " percent ").replace("-", " ")
    text = re.sub(r"\d+", lambda m: " " + say_number(int(m.group())) + " ", text)
    return re.sub(r"[^a-z' ]", " ", text).replace("'", "").split()


def edits(ref: list[str], hyp: list[str]) -> int:
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def make_calls(folder: Path, limit: int) -> list[dict[str, Any]]:
    out = []
    for n, (corpus, question, relevant, topic) in enumerate(CALLS[:limit]):
        voice = VOICES[n % len(VOICES)]
        pcm, where = speechkit.call(
            [HELLO, ("customer", question), CHECK],
            voices={"agent": ("en-gb", 170), "customer": voice},
        )
        path = speechkit.write_wav(folder / f"call{n:02}.wav", pcm)
        out.append(
            {
                "n": n,
                "corpus": corpus,
                "question": question,
                "relevant": relevant,
                "topic": topic,
                "voice": f"{voice[0]}@{voice[1]}",
                "path": path,
                "pcm": pcm,
                "turns": where,
                "seconds": len(pcm) / speechkit.RATE,
            }
        )
    return out


def contexts(corpora: set[str]) -> dict[str, AppContext]:
    demo = AppContext.from_env()
    demo.ensure_demo_pack()
    found = {"demo": demo}
    if "rackspace" in corpora:
        paths = Paths.from_env()
        found["rackspace"] = AppContext(
            paths,
            Settings(paths),
            embedder=demo.embedder,
            pack_dirs=[corpus_pack("rackspace", demo.embedder, progress=False)],
        )
    for context in found.values():
        context.settings.set("generation.enabled", False)
        context.settings.set("listen.audio", True)
        context.settings.set("listen.draft_each_turn", DRAFTS["each_turn"])
    return found


def spin(until: Any, timeout_s: float) -> bool:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    deadline = time.monotonic() + timeout_s
    while not until():
        if time.monotonic() > deadline:
            return False
        QTimer.singleShot(5, loop.quit)
        loop.exec()
    return True


def play(window: Any, call: dict[str, Any], speed: float) -> dict[str, Any]:
    """Play one call into the window; what the agent saw, and when."""
    from desktop.core.speech.audio import FileSource, Paced

    part = window.parts["listen"]
    window.listen.conversation.clear()
    seen: dict[str, Any] = {
        "finals": [],
        "suggestions": [],
        "routes": [],
        "drafts": [],
        "ended": None,
    }
    hooks = [
        (part.audio.final, lambda f: seen["finals"].append((time.monotonic(), f))),
        (
            part.suggestions_shown,
            lambda hits: seen["suggestions"].append((time.monotonic(), [h.source for h in hits])),
        ),
        (part.route_shown, lambda d: seen["routes"].append((time.monotonic(), d))),
        (part.audio.ended, lambda e: seen.__setitem__("ended", ("done", e))),
        (window.draft_finished, lambda a: seen["drafts"].append((time.monotonic(), a))),
    ]
    for signal, slot in hooks:
        signal.connect(slot)
    part.audio.audio_source = lambda: Paced(FileSource(call["path"]), speed)
    window.listen.audio_button.click()
    spin(lambda: seen["ended"] is not None, call["seconds"] / speed + 120)
    last = [t for t, f in seen["finals"] if f.speaker == "customer"][-1:]
    # The check of the customer's last turn finishes (or 60 s pass).
    spin(lambda: bool(last) and any(t >= last[0] for t, _ in seen["suggestions"]), 60)
    if DRAFTS["each_turn"] and call["relevant"]:  # and its draft is shown (or 60 s pass)
        spin(lambda: bool(last) and any(t >= last[0] for t, _ in seen["drafts"]), 60)
    for signal, slot in hooks:
        signal.disconnect(slot)
    return seen


def score(call: dict[str, Any], seen: dict[str, Any]) -> dict[str, Any]:
    finals = [f for _, f in seen["finals"]]
    ref_turns = call["turns"]
    hyp_by_speaker = {
        s: " ".join(f.text for f in finals if f.speaker == s) for s in ("agent", "customer")
    }
    customer_ref = " ".join(str(t["text"]) for t in ref_turns if t["speaker"] == "customer")
    agent_ref = " ".join(str(t["text"]) for t in ref_turns if t["speaker"] == "agent")
    row: dict[str, Any] = {
        "n": call["n"],
        "corpus": call["corpus"],
        "voice": call["voice"],
        "heard": hyp_by_speaker["customer"],
        "customer_words": len(words(customer_ref)),
        "customer_errors": edits(words(customer_ref), words(hyp_by_speaker["customer"])),
        "agent_words": len(words(agent_ref)),
        "agent_errors": edits(words(agent_ref), words(hyp_by_speaker["agent"])),
        "error": None
        if seen["ended"] is None or seen["ended"][1] is None
        else str(seen["ended"][1]),
    }
    mine = [(t, f) for t, f in seen["finals"] if f.speaker == "customer"]
    if not mine:
        return row
    shown_at, final = mine[0]
    row["final_s"] = final.done_at - final.heard_at
    after = [(t, hits) for t, hits in seen["suggestions"] if t >= shown_at]
    if call["relevant"]:
        row["top3"] = bool(after) and any(r in after[0][1][:3] for r in call["relevant"])
        row["suggest_s"] = after[0][0] - final.heard_at if after else None
    routed = [(t, d) for t, d in seen["routes"] if t >= shown_at and d is not None]
    if call["topic"]:
        row["routed"] = bool(routed) and routed[0][1].topic.name == call["topic"]
        row["banner_s"] = routed[0][0] - final.heard_at if routed else None
    elif routed:
        row["false_route"] = routed[0][1].topic.name
    drafts = [t for t, _ in seen["drafts"] if t >= shown_at]
    if DRAFTS["each_turn"] and call["relevant"]:
        row["draft_s"] = drafts[0] - final.heard_at if drafts else None
    if DRAFTS["each_turn"] and call["topic"]:
        row["routed_drafted"] = bool(drafts)  # must never happen
    return row


def _time_vocabulary(window: Any) -> dict[str, Any]:
    """The packs' words for Whisper, computed as the listening thread does (first time)."""
    from tokenizers import Tokenizer

    from desktop.core.speech import vocabulary
    from desktop.core.speech.whisper import model_dir

    packs = list(window.shell.packs.values())
    vocabulary._cache.clear()
    started = time.perf_counter()
    line = vocabulary.hotwords(packs)
    took = time.perf_counter() - started
    tokens = Tokenizer.from_file(str(model_dir() / "tokenizer.json")).encode(" " + line).ids
    return {"seconds": round(took, 3), "chars": len(line), "tokens": len(tokens), "line": line}


def run(speed: float, limit: int, modes: tuple[bool, ...] = (True,)) -> dict[str, Any]:
    from PySide6.QtWidgets import QApplication

    from desktop.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    folder = Path(tempfile.mkdtemp(prefix="live-listen-"))
    calls = make_calls(folder, limit)
    ctxs = contexts({c["corpus"] for c in calls})
    rows: list[dict[str, Any]] = []
    phases: dict[str, Any] = {}
    vocabulary_s: dict[str, Any] = {}
    ticks = Ticks()
    for corpus, context in ctxs.items():
        window = MainWindow(context)
        window.show()
        ready: list[bool] = []
        window.ready.connect(lambda r=ready: r.append(True))
        window.start()  # opens the packs and loads the embedding model, as at start-up
        if not spin(lambda r=ready: bool(r), 600):
            raise SystemExit(f"the window over the {corpus} pack did not get ready")
        window.parts["listen"].audio.apply_policy()
        mine = [c for c in calls if c["corpus"] == corpus]
        audio = window.parts["listen"].audio
        vocabulary_s[corpus] = _time_vocabulary(window)
        play(window, mine[0], 50.0)  # warm-up: loads the speech model and the searches

        def calls_of(
            mine: list[dict[str, Any]] = mine, window: Any = window, audio: Any = audio
        ) -> None:
            for call in mine:
                for mode in modes:  # each call with and without, one after the other
                    audio.vocabulary = mode
                    rows.append({**score(call, play(window, call, speed)), "vocabulary": mode})
                    print(rows[-1], flush=True)

        phases[corpus] = ticks.phase(f"listening ({corpus})", calls_of)
        window.close()
        app.processEvents()
    out = {
        "calls": rows,
        "phases": phases,
        "audio_s": sum(c["seconds"] for c in calls),
        "vocabulary": vocabulary_s,
    }
    if len(modes) == 2:
        out["turn_cost"] = turn_cost(calls, vocabulary_s)
    return out


def turn_cost(calls: list[dict[str, Any]], vocab: dict[str, Any]) -> dict[str, Any]:
    """CPU seconds to transcribe each customer turn without and with the packs' words: the same
    audio, back to back, after the windows closed (the load of other processes does not count in
    CPU time, as it does in wall time)."""
    from desktop.core.speech.whisper import Speech

    speech = Speech.default()
    speech.model()
    cost: dict[bool, list[float]] = {False: [], True: []}
    for call in calls:
        samples = call["pcm"][:, 1].astype("float32") / 32768.0
        for turn in call["turns"]:
            if turn["speaker"] != "customer":
                continue
            start, end = int((turn["start"] - 0.3) * 16000), int((turn["end"] + 0.3) * 16000)
            took: dict[bool, list[float]] = {False: [], True: []}
            for _ in range(2):  # each twice, interleaved; the lower counts (less interference)
                for mode in (False, True):
                    speech.hotwords = vocab[call["corpus"]]["line"] if mode else ""
                    began = time.process_time()
                    speech.text(samples[start:end])
                    took[mode].append(time.process_time() - began)
            for mode, times in took.items():
                cost[mode].append(min(times))
    without, with_ = statistics.median(cost[False]), statistics.median(cost[True])
    return {
        "turns": len(cost[False]),
        "cpu_s_without": round(without, 3),
        "cpu_s_with": round(with_, 3),
        "added_cpu_s": round(with_ - without, 3),
        "ratio": round(sum(cost[True]) / sum(cost[False]), 3),
    }


def summary(result: dict[str, Any], speed: float, vocabulary: bool = True) -> dict[str, Any]:
    rows = [r for r in result["calls"] if r.get("vocabulary", True) == vocabulary]

    def wer(key: str) -> float:
        return sum(r[f"{key}_errors"] for r in rows) / max(1, sum(r[f"{key}_words"] for r in rows))

    def stat(key: str) -> dict[str, float | None]:
        values = [r[key] for r in rows if r.get(key) is not None]
        if not values:
            return {"median": None, "p90": None, "max": None, "n": 0}
        return {
            "median": round(statistics.median(values), 2),
            "p90": round(percentile(values, 90), 2),
            "max": round(max(values), 2),
            "n": len(values),
        }

    with_article = [r for r in rows if "top3" in r]
    sensitive = [r for r in rows if "routed" in r]
    gaps = [p["max_gap_ms"] for p in result["phases"].values()]
    return {
        "speed": speed,
        "vocabulary": vocabulary,
        "calls": len(rows),
        "wer_customer": round(wer("customer"), 3),
        "wer_agent": round(wer("agent"), 3),
        "top3": round(sum(r["top3"] for r in with_article) / max(1, len(with_article)), 3),
        "top3_n": len(with_article),
        "routed": sum(r["routed"] for r in sensitive),
        "routed_n": len(sensitive),
        "false_routes": sum("false_route" in r for r in rows),
        "final_s": stat("final_s"),
        "suggest_s": stat("suggest_s"),
        "banner_s": stat("banner_s"),
        "draft_s": stat("draft_s"),
        "routed_drafted": sum(bool(r.get("routed_drafted")) for r in rows),
        "max_gap_ms": max(gaps),
        "errors": [r["error"] for r in rows if r["error"]],
    }


def table(s: dict[str, Any]) -> str:
    def lat(key: str, target: str) -> str:
        v = s[key]
        return f"| end of turn → {key[:-2]} | {v['median']} | {v['p90']} | {v['max']} | {target} |"

    words = "with" if s["vocabulary"] else "without"
    return "\n".join(
        [
            f"# Live listening ({s['calls']} generated calls, played at {s['speed']}x real time, "
            f"window offscreen; {words} the packs' words for Whisper)",
            "",
            "| measure | value |",
            "| --- | --- |",
            f"| word error rate, customer turns | {s['wer_customer']:.1%} |",
            f"| word error rate, agent turns | {s['wer_agent']:.1%} |",
            f"| expected article in top 3 suggestions | {s['top3']:.0%} ({s['top3_n']} calls) |",
            f"| sensitive calls routed (right topic) | {s['routed']} / {s['routed_n']} |",
            f"| false routes | {s['false_routes']} |",
            f"| longest UI stall while listening | {s['max_gap_ms']} ms (target ≤ 50) |",
            "",
            "| latency (s) | median | p90 | max | target |",
            "| --- | --- | --- | --- | --- |",
            lat("final_s", "—"),
            lat("suggest_s", "≤ 2"),
            lat("banner_s", "—"),
            *(
                [
                    lat("draft_s", "—"),
                    "",
                    f"Drafts for sensitive (routed) calls: {s['routed_drafted']} (must be 0).",
                ]
                if s["draft_s"]["n"]
                else []
            ),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--calls", type=int, default=len(CALLS))
    parser.add_argument(
        "--compare-vocabulary",
        action="store_true",
        help="play every call twice, without and with the packs' words for Whisper",
    )
    parser.add_argument(
        "--draft-each-turn",
        action="store_true",
        help="turn on listen.draft_each_turn and time end of turn -> draft shown (extractive)",
    )
    args = parser.parse_args()
    DRAFTS["each_turn"] = args.draft_each_turn
    if not speechkit.have_tools():
        raise SystemExit("needs espeak-ng and sox: apt-get install -y espeak-ng sox")
    modes = (False, True) if args.compare_vocabulary else (True,)
    result = run(args.speed, args.calls, modes)
    s = summary(result, args.speed)
    out: dict[str, Any] = {"summary": s}
    text = table(s)
    if args.compare_vocabulary:
        out["without_vocabulary"] = without = summary(result, args.speed, vocabulary=False)
        text += "\n\n" + comparison(without, s, result["vocabulary"], result["turn_cost"])
    write_result("live_listen", {**out, **result}, text)


def comparison(
    without: dict[str, Any], with_: dict[str, Any], vocab: dict[str, Any], cost: dict[str, Any]
) -> str:
    """The same calls without and with the packs' words, side by side."""

    def row(name: str, get: Any) -> str:
        return f"| {name} | {get(without)} | {get(with_)} |"

    lines = [
        "## The packs' words for Whisper (hotwords): the same calls, one run",
        "",
        "| measure | without | with |",
        "| --- | --- | --- |",
        row("word error rate, customer turns", lambda s: f"{s['wer_customer']:.1%}"),
        row("word error rate, agent turns", lambda s: f"{s['wer_agent']:.1%}"),
        row("expected article in top 3", lambda s: f"{s['top3']:.0%} ({s['top3_n']})"),
        row("sensitive calls routed", lambda s: f"{s['routed']} / {s['routed_n']}"),
        row("false routes", lambda s: s["false_routes"]),
        row("end of turn → final, median (s)", lambda s: s["final_s"]["median"]),
        row("end of turn → final, p90 (s)", lambda s: s["final_s"]["p90"]),
        row("end of turn → suggestions, median (s)", lambda s: s["suggest_s"]["median"]),
        f"| CPU s to transcribe a customer turn, median ({cost['turns']} turns) | "
        f"{cost['cpu_s_without']} | {cost['cpu_s_with']} (x{cost['ratio']} in total) |",
        "",
        "| pack set | words computed in (s) | characters | tokens |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| {k} | {v['seconds']} | {v['chars']} | {v['tokens']} |" for k, v in vocab.items()]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
