"""Scores echo cancellers on the AEC fixtures from their processed outputs.

    score.py FIXDIR --run ours=DIR [--run reference=DIR ...] [--cpu-json FILE]

Each run's DIR holds NAME.plus.wav and NAME.minus.wav per fixture: the
processed capture echo + near + noise and echo − near + noise. Their half
sum e is the residual echo (and noise), their half difference n the
processed near talker (Hagerman–Olofsson). Channels are pooled. Prints a
table per kind of fixture (the runs side by side), the acceptance points
for the run named `ours` (else the first run), then METRIC lines.
tools/aec/README.md defines every figure.
"""

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
from scipy import linalg, signal

import pcm

SKIP_S = 2.0  # the canceller's first seconds of convergence are not scored
WINDOW_S = 0.25
WINDOW_ERLE_DB = 25.0
DRIFT_TAIL_S = 10.0
HOUR_TAIL_S = 60.0
FRAME_S = 0.02
ACTIVE_DB = 30.0  # a near frame within this of the talker's loudest is speech
KEPT_DB = 6.0
AFTER_S = 1.0
# The linear filter SDR allows the processing before it counts distortion:
# 128 ms. BSS-eval's default 512 taps (32 ms) cannot follow the 80 Hz
# high-pass every WebRTC-style module runs (it alone scores 30 dB on the
# RT60 0.3 talker's low voice at 512 taps, 61 dB at 2048); both show.
SDR_TAPS = 2048
SDR_TAPS_BSS = 512
MAX_LATENCY = 1024  # samples a processor may delay its output by


def db(num, den):
    if den <= 0:
        return math.inf if num > 0 else math.nan
    return 10 * math.log10(num / den) if num > 0 else -math.inf


def mask_of(spans, n, fs, lo_s=0.0, hi_s=math.inf):
    """The samples of spans inside [lo_s, hi_s)."""
    mask = np.zeros(n, dtype=bool)
    for a, b in spans:
        a, b = max(a, lo_s), min(b, hi_s)
        if b > a:
            mask[round(a * fs) : round(b * fs)] = True
    return mask


def windows(spans, fs, length_s, lo_s=0.0):
    """[first, end) samples of windows of length_s tiled from each span's
    start (or lo_s), wholly inside the span."""
    length = round(length_s * fs)
    for a, b in spans:
        start, end = round(max(a, lo_s) * fs), round(b * fs)
        for at in range(start, end - length + 1, length):
            yield at, at + length


class Fixture:
    """A fixture's sidecar; its parts are read when scored (an hour is big)."""

    def __init__(self, sidecar):
        self.dir, self.name = sidecar.parent, sidecar.stem
        self.meta = json.loads(sidecar.read_text())
        self.fs = self.meta["sample_rate"]
        self.shape = (len(self.meta["mic_positions_m"]), round(self.meta["duration_s"] * self.fs))
        self.has_near = "near" in self.meta["parts"]
        self.long = self.meta["duration_s"] > 2 * HOUR_TAIL_S
        m = self.meta
        # far (echo only, plain), delay, drift, near or double.
        self.family = m["kind"]
        if m["kind"] == "far" and (m["drift_ppm"] or m["extra_delay_ms"]):
            self.family = "drift" if m["drift_ppm"] else "delay"

    def part(self, name):
        return pcm.component(self.dir, self.name, name, self.shape) / 32768.0


def load_run(fx, outdir):
    """(e, n) of one run on one fixture (n None where no near talker is),
    or None when its files are missing."""
    paths = [outdir / f"{fx.name}.{s}.wav" for s in ("plus", "minus")]
    if not all(p.exists() for p in paths):
        return None
    outs = []
    for p in paths:
        x, fs = pcm.read(p)
        assert fs == fx.fs and x.shape[0] == fx.shape[0], (p, fs, x.shape)
        if x.shape[1] != fx.shape[1]:
            print(f"score: {p.name} has {x.shape[1]} samples, the fixture {fx.shape[1]}", file=sys.stderr)
            x = np.pad(x, ((0, 0), (0, max(0, fx.shape[1] - x.shape[1]))))[:, : fx.shape[1]]
        outs.append(x.astype(np.int32))
    plus, minus = outs
    return (plus + minus) / 65536.0, (plus - minus) / 65536.0 if fx.has_near else None


def latency(near, n):
    """The lag (samples, 0…MAX_LATENCY) at which the processed near talker
    best matches its input, pooled over channels."""
    size = near.shape[1] + MAX_LATENCY
    xc = np.fft.irfft((np.fft.rfft(n, size) * np.conj(np.fft.rfft(near, size))).sum(axis=0), size)
    return int(np.argmax(xc[:MAX_LATENCY]))


def advanced(x, lag):
    """x earlier by lag samples (zeros at the end): the output lined up with
    its input."""
    return np.pad(x[:, lag:], ((0, 0), (0, lag))) if lag and x is not None else x


def sdr(reference, estimate, length=SDR_TAPS):
    """BSS-eval SDR, pooled over channels: per channel the estimate's
    least-squares projection on the reference through a causal `length`-tap
    filter is the target, the rest is distortion."""
    target_power = error_power = 0.0
    for ref, est in zip(reference, estimate):
        size = len(ref) + length
        spectrum = np.fft.rfft(ref, size)
        auto = np.fft.irfft(np.abs(spectrum) ** 2, size)[:length]
        cross = np.fft.irfft(np.fft.rfft(est, size) * np.conj(spectrum), size)[:length]
        # A tiny diagonal load keeps silent stretches from making it singular.
        auto[0] *= 1 + 1e-10
        taps = linalg.solve_toeplitz(auto, cross)
        target = signal.oaconvolve(ref, taps)[: len(ref)]
        target_power += float((target**2).sum())
        error_power += float(((est - target) ** 2).sum())
    return db(target_power, error_power)


def erle(echo, e, mask):
    return db(float((echo[:, mask] ** 2).sum()), float((e[:, mask] ** 2).sum()))


def score(fx, e, n):
    """The figures of one run on one fixture: {name: value}."""
    fs, dur, meta, N = fx.fs, fx.meta["duration_s"], fx.meta, fx.shape[1]
    out = {}
    if fx.family in ("far", "delay", "drift"):
        echo, far = fx.part("echo"), meta["far_spans"]
        lo = dur - DRIFT_TAIL_S if fx.family == "drift" else SKIP_S
        out["erle"] = erle(echo, e, mask_of(far, N, fs, lo))
        if fx.long:
            out["erle_last_min"] = erle(echo, e, mask_of(far, N, fs, dur - HOUR_TAIL_S))
        echo_p, e_p = (echo**2).sum(axis=0), (e**2).sum(axis=0)
        wins = [db(echo_p[a:b].sum(), e_p[a:b].sum()) for a, b in windows(far, fs, WINDOW_S, SKIP_S)]
        out["windows_pct"] = 100 * np.mean(np.array(wins) >= WINDOW_ERLE_DB) if wins else math.nan
    elif fx.family == "near":
        near, spans = fx.part("near"), mask_of(meta["near_spans"], N, fs)
        out["level"] = db(float((n[:, spans] ** 2).sum()), float((near[:, spans] ** 2).sum()))
        out["sdr"] = sdr(near, n)
        out["sdr_bss"] = sdr(near, n, SDR_TAPS_BSS)
    else:
        echo, near, both = fx.part("echo"), fx.part("near"), mask_of(meta["double_spans"], N, fs)
        out["cut"] = erle(echo, e, both)
        out["drop"] = db(float((near[:, both] ** 2).sum()), float((n[:, both] ** 2).sum()))
        # Near frames with speech in them, judged by the talker's loudest frame.
        frame = round(FRAME_S * fs)
        near_p, n_p = (near**2).sum(axis=0), (n**2).sum(axis=0)
        loudest = near_p[: N // frame * frame].reshape(-1, frame).sum(axis=1).max()
        kept = []
        for a, b in windows(meta["double_spans"], fs, FRAME_S):
            p_in = near_p[a:b].sum()
            if p_in >= loudest * 10 ** (-ACTIVE_DB / 10):
                kept.append(abs(db(n_p[a:b].sum(), p_in)) <= KEPT_DB)
        out["frames_pct"] = 100 * np.mean(kept) if kept else math.nan
        end = max(b for _, b in meta["double_spans"])
        out["after"] = erle(echo, e, mask_of(meta["far_spans"], N, fs, end, end + AFTER_S))
    return out


FAR_FAMILIES = ("far", "delay", "drift")
ERLE_COLS = [("erle", "ERLE", "{:.1f}"), ("windows_pct", "win%", "{:.0f}")]
# Per family: a heading and its columns (key, title, format).
COLUMNS = {
    "far": ("far end only (ERLE after 2 s, dB; 250 ms windows ≥ 25 dB)", ERLE_COLS),
    "delay": ("far end only, 300 ms more output delay", ERLE_COLS),
    "drift": (
        "far end only, speaker clock +100 ppm (ERLE over the last 10 s; last minute)",
        ERLE_COLS[:1] + [("erle_last_min", "1min", "{:.1f}")] + ERLE_COLS[1:],
    ),
    "near": (
        "near talker only (output − input level, dB; SDR with a 2048- and a 512-tap filter, dB)",
        [("level", "level", "{:+.2f}"), ("sdr", "SDR", "{:.1f}"), ("sdr_bss", "SDR512", "{:.1f}")],
    ),
    "double": (
        "double talk (echo cut, talker drop, near frames within 6 dB, ERLE the second after)",
        [("cut", "cut", "{:.1f}"), ("drop", "drop", "{:.1f}"), ("frames_pct", "fr%", "{:.0f}"), ("after", "after", "{:.1f}")],
    ),
}


def show(value, fmt):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return "inf" if value == math.inf else fmt.format(value)


def erle_delta(results, name):
    ours, ref = results["ours"].get(name), results["reference"].get(name)
    return ours["erle"] - ref["erle"] if ours and ref else None


def table(fixtures, results, compare):
    for family, (heading, cols) in COLUMNS.items():
        rows = [fx for fx in fixtures if fx.family == family]
        if not rows:
            continue
        if not any(fx.long for fx in rows):
            cols = [c for c in cols if c[0] != "erle_last_min"]
        # A run's first column carries its name.
        titles = {run: [f"{run} {cols[0][1]}"] + [t for _, t, _ in cols[1:]] for run in results}
        width = max(len(fx.name) for fx in rows)
        delta = compare and family in FAR_FAMILIES
        head = f"{'fixture':<{width}}" + "".join(" |" + "".join(f" {t:>6}" for t in ts) for ts in titles.values())
        head += f" | {'Δ ERLE':>7}" if delta else ""
        print(f"\n{heading}\n{head}\n{'-' * len(head)}")
        for fx in rows:
            line = f"{fx.name:<{width}}"
            for run, ts in titles.items():
                r = results[run].get(fx.name, {})
                line += " |" + "".join(f" {show(r.get(k), fmt):>{max(6, len(t))}}" for (k, _, fmt), t in zip(cols, ts))
            line += f" | {show(erle_delta(results, fx.name), '{:+.1f}'):>7}" if delta else ""
            print(line)


def verdict(text, judged, failed):
    """(True/False, or None when there was nothing to judge; the line)."""
    if not judged:
        return None, text
    return not failed, text + (f": fails {', '.join(failed)}" if failed else f": {len(judged)} fixtures")


def acceptance(fixtures, results, run, compare):
    res = results[run]

    def judge(text, family, test, detail, long=False):
        judged = [(fx, res[fx.name]) for fx in fixtures if fx.family == family and fx.long == long and fx.name in res]
        return verdict(text, judged, [f"{fx.name} ({detail(r)})" for fx, r in judged if not test(r)])

    def erle_dB(r):
        return f"{r['erle']:.1f} dB"

    points = [
        judge(
            "far end only: ERLE ≥ 35 dB pooled and ≥ 25 dB in 90 % of 250 ms windows after 2 s",
            "far",
            lambda r: r["erle"] >= 35 and r["windows_pct"] >= 90,
            lambda r: f"{r['erle']:.1f} dB, {r['windows_pct']:.0f} %",
        ),
        judge("300 ms more delay: ERLE ≥ 30 dB", "delay", lambda r: r["erle"] >= 30, erle_dB),
        judge("100 ppm drift, 60 s: ERLE over the last 10 s ≥ 40 dB", "drift", lambda r: r["erle"] >= 40, erle_dB),
        judge("100 ppm drift, an hour: ERLE over the last 10 s ≥ 30 dB", "drift", lambda r: r["erle"] >= 30, erle_dB, True),
        judge(
            "near talker only: level within ±1 dB, SDR ≥ 40 dB",
            "near",
            lambda r: abs(r["level"]) <= 1 and r["sdr"] >= 40,
            lambda r: f"{r['level']:+.2f} dB, SDR {r['sdr']:.1f} dB",
        ),
        judge(
            "double talk: echo cut ≥ 15 dB, talker drop ≤ 4 dB, ≥ 45 % of near frames within 6 dB, "
            "ERLE ≥ 25 dB the second after",
            "double",
            lambda r: r["cut"] >= 15 and r["drop"] <= 4 and r["frames_pct"] >= 45 and r["after"] >= 25,
            lambda r: f"cut {r['cut']:.1f}, drop {r['drop']:.1f} dB, {r['frames_pct']:.0f} %, after {r['after']:.1f} dB",
        ),
    ]
    if compare:
        deltas = [(fx.name, erle_delta(results, fx.name)) for fx in fixtures if fx.family in FAR_FAMILIES]
        deltas = [(name, d) for name, d in deltas if d is not None]
        text = "within 3 dB of (or above) the reference's ERLE on every far-end-only fixture"
        points.append(verdict(text, deltas, [f"{name} ({d:+.1f} dB)" for name, d in deltas if d < -3]))
    return points


def metric(results, run, fixtures, pick, key):
    """The run's `key` on the first fixture that `pick` takes, or nan."""
    for fx in fixtures:
        r = results.get(run, {}).get(fx.name)
        if pick(fx) and r and key in r:
            return r[key]
    return math.nan


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fixdir", type=Path)
    parser.add_argument("--run", action="append", required=True, metavar="NAME=DIR", help="a run's outputs")
    parser.add_argument("--cpu-json", type=Path, help='a JSON with "ms_per_audio_second"')
    args = parser.parse_args()
    runs = {}
    for spec in args.run:
        name, sep, folder = spec.partition("=")
        if not sep:
            sys.exit(f"score.py: --run wants NAME=DIR, got {spec!r}")
        runs[name] = Path(folder)
    fixtures = [Fixture(p) for p in sorted(args.fixdir.glob("*.json"))]
    if not fixtures:
        sys.exit(f"score.py: no fixtures in {args.fixdir}")

    results, lags = {}, {}
    for run, outdir in runs.items():
        # Outputs are lined up with the input before anything is compared:
        # the run's latency, from the fixtures where a near talker tells it.
        found = []
        for fx in fixtures:
            loaded = load_run(fx, outdir) if fx.has_near else None
            if loaded:
                found.append(latency(fx.part("near"), loaded[1]))
        lags[run] = int(np.median(found)) if found else 0
        results[run] = {}
        for fx in fixtures:
            loaded = load_run(fx, outdir)
            if loaded:
                results[run][fx.name] = score(fx, *(advanced(x, lags[run]) for x in loaded))
        print(f"score: {run}: {len(results[run])} of {len(fixtures)} fixtures", file=sys.stderr)
    compare = "ours" in runs and "reference" in runs
    fs = fixtures[0].fs
    latencies = ", ".join(f"{run} {lag} samples ({1000 * lag / fs:.1f} ms)" for run, lag in lags.items())
    print(f"output latency (found from the near talker; outputs are lined up by it): {latencies}")
    table(fixtures, results, compare)

    judged = "ours" if "ours" in runs else next(iter(runs))
    print(f"\nacceptance ({judged}):")
    for ok, text in acceptance(fixtures, results, judged, compare):
        print(f"{'-' if ok is None else 'PASS' if ok else 'FAIL'} {text}")

    cpu = math.nan
    if args.cpu_json and args.cpu_json.exists():
        cpu = float(json.loads(args.cpu_json.read_text())["ms_per_audio_second"])
    elif args.cpu_json:
        print(f"score: no {args.cpu_json}", file=sys.stderr)

    def headline(family):
        return lambda fx: fx.family == family and fx.meta["headline"]

    hour_erle = metric(results, "ours", fixtures, lambda fx: fx.family == "drift" and fx.long, "erle")
    print()
    print(f"METRIC aec_erle_db={metric(results, 'ours', fixtures, headline('far'), 'erle'):.2f}")
    print(f"METRIC aec_erle_db_reference={metric(results, 'reference', fixtures, headline('far'), 'erle'):.2f}")
    print(f"METRIC aec_doubletalk_near_frames_pct={metric(results, 'ours', fixtures, headline('double'), 'frames_pct'):.1f}")
    print(f"METRIC aec_erle_db_after_hour_drift={hour_erle:.2f}")
    print(f"METRIC aec_cpu_ms_per_audio_second={cpu:.3f}")


if __name__ == "__main__":
    main()
