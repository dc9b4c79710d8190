"""Scores pyroomacoustics' SRP-PHAT and NormMUSIC on the DOA fixtures, on the
same windows the Rust benchmark scores (tools/doa/README.md states them).

    reference.py DIR [--window-ms 256] [--hop-ms 128] [--out FILE.jsonl] [--all] [--jobs N]

Prints, per geometry and RT60, each algorithm's mean and 95th-percentile
absolute azimuth error and the share of windows within ±10°, as a table and
as `REF …` lines; writes one JSON record per window (both algorithms) to
--out. Scenes with "purpose": "cpu" are skipped unless --all.
"""

import argparse
import json
import multiprocessing
import os
import sys
import wave
from pathlib import Path

import numpy as np
import pyroomacoustics as pra

ALGORITHMS = ("SRP", "NormMUSIC")
SPEED_OF_SOUND = 343.0
FREQ_RANGE_HZ = (300.0, 3500.0)
GRID_DEG = np.arange(360)
STFT_MS = 32  # nfft 512 at 16 kHz, 1536 at 48 kHz: the same 31.25 Hz bins
WITHIN_DEG = 10.0


def read_wav(path):
    """(M, N) floats in [-1, 1) and the rate."""
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2, path
        m, fs = w.getnchannels(), w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return x.reshape(-1, m).T.astype(np.float64) / 32768.0, fs


def windows(talkers, fs, window_ms, hop_ms):
    """(talker index, first sample, length) of every window: from each span's
    start in steps of hop, while the window ends within the span."""
    length, hop = round(window_ms * fs / 1000), round(hop_ms * fs / 1000)
    for k, talker in enumerate(talkers):
        start, end = round(talker["start_s"] * fs), round(talker["end_s"] * fs)
        for at in range(start, end - length + 1, hop):
            yield k, at, length


def spectra(x, at, length, nfft, hann):
    """STFT of x[:, at:at+length] as pyroomacoustics wants it, (M, F, frames):
    frames of nfft at a hop of nfft/2, all inside the window, no padding."""
    hop = nfft // 2
    starts = at + hop * np.arange((length - nfft) // hop + 1)
    frames = x[:, starts[:, None] + np.arange(nfft)[None, :]] * hann
    return np.fft.rfft(frames, axis=2).transpose(0, 2, 1)


def circular_error(estimate, truth):
    return abs((estimate - truth + 180.0) % 360.0 - 180.0)


def score_scene(sidecar_path, window_ms, hop_ms):
    scene = json.loads(sidecar_path.read_text())
    x, fs = read_wav(sidecar_path.with_suffix(".wav"))
    assert fs == scene["sample_rate"] and x.shape[0] == len(scene["mic_positions_m"]), sidecar_path
    nfft = round(STFT_MS * fs / 1000)
    # Periodic Hann: w[n] = 0.5 − 0.5·cos(2πn/nfft).
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(nfft) / nfft)
    mics = np.array(scene["mic_positions_m"]).T
    doas = {
        name: pra.doa.algorithms[name](mics, fs, nfft, c=SPEED_OF_SOUND, num_src=1, azimuth=np.radians(GRID_DEG), dim=2)
        for name in ALGORITHMS
    }
    records = []
    for k, at, length in windows(scene["talkers"], fs, window_ms, hop_ms):
        X = spectra(x, at, length, nfft, hann)
        truth = scene["talkers"][k]["azimuth_deg"]
        estimates = {}
        for name, doa in doas.items():
            doa.locate_sources(X, freq_range=list(FREQ_RANGE_HZ))
            estimates[name] = float(GRID_DEG[doa.src_idx[0]])
        records.append(
            {
                "scene": sidecar_path.stem,
                "geometry": scene["geometry"],
                "rt60_s": scene["rt60_s"],
                "talker": k,
                "t0_s": round(at / fs, 6),
                "start_sample": at,
                "window_samples": length,
                "truth_deg": truth,
                "estimate_deg": estimates,
                "error_deg": {name: round(circular_error(e, truth), 3) for name, e in estimates.items()},
            }
        )
    return records


def summarise(records, window_ms, hop_ms):
    groups = {}
    for r in records:
        groups.setdefault((r["geometry"], r["rt60_s"]), []).append(r)
    header = f"{'geometry':<20} {'RT60':>5} {'n':>5}" + "".join(
        f" | {name + ' mean':>14} {'p95':>6} {'±10°':>6}" for name in ALGORITHMS
    )
    print(f"pyroomacoustics {pra.__version__}: {window_ms:g} ms windows, hop {hop_ms:g} ms; errors in degrees")
    print(header)
    print("-" * len(header))
    lines = []
    for (geometry, rt60), rs in sorted(groups.items()):
        row = f"{geometry:<20} {rt60:>5.1f} {len(rs):>5}"
        for name in ALGORITHMS:
            errors = np.array([r["error_deg"][name] for r in rs])
            # Nearest rank: the smallest error at or above 95 % of windows.
            mean, p95 = errors.mean(), np.percentile(errors, 95, method="inverted_cdf")
            within = np.mean(errors <= WITHIN_DEG)
            row += f" | {mean:>14.2f} {p95:>6.1f} {100 * within:>5.1f}%"
            lines.append(
                f"REF geometry={geometry} rt60={rt60:g} algo={name} window_ms={window_ms:g} hop_ms={hop_ms:g} "
                f"mean={mean:.3f} p95={p95:.3f} within10={within:.4f} n={len(rs)}"
            )
        print(row)
    print("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--window-ms", type=float, default=256)
    parser.add_argument("--hop-ms", type=float, default=128)
    parser.add_argument("--out", type=Path, help="per-window records, JSON lines")
    parser.add_argument("--all", action="store_true", help="also the CPU-measurement scenes")
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    args = parser.parse_args()

    sidecars = sorted(
        p for p in args.dir.glob("*.json") if args.all or json.loads(p.read_text()).get("purpose") != "cpu"
    )
    if not sidecars:
        sys.exit(f"reference.py: no scenes in {args.dir}")
    with multiprocessing.Pool(args.jobs) as pool:
        per_scene = pool.starmap(score_scene, [(p, args.window_ms, args.hop_ms) for p in sidecars])
    records = [r for rs in per_scene for r in rs]
    if args.out:
        args.out.write_text("".join(json.dumps(r) + "\n" for r in records))
    summarise(records, args.window_ms, args.hop_ms)


if __name__ == "__main__":
    main()
