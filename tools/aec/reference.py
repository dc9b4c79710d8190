"""Runs Google's AEC3 (WebRTC's audio processing module, from PyPI livekit)
over the AEC fixtures: the reference the box's echo canceller is held to.

    reference.py FIXDIR OUTDIR [--shared-module] [--max-seconds S] [--jobs N]

For every fixture and s = +1, -1 it feeds 10 ms frames, a render frame from
NAME.far.wav then the capture frame echo + s·near + noise, to one module per
microphone (--shared-module: one module for all, multichannel frames), and
writes the processed capture to
OUTDIR/NAME.plus.wav and OUTDIR/NAME.minus.wav; tools/aec/score.py scores
them. OUTDIR/cpu.json holds the CPU time per audio second on the headline
far fixture. Only echo cancellation and the high-pass filter are on.
"""

import argparse
import json
import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np
from livekit import rtc

import pcm

FRAME_MS = 10  # the module takes exactly 10 ms frames


def capture(fixdir, name, shape, sign):
    """echo + sign·near + noise as int16; the generator keeps it unclipped."""
    parts = [pcm.component(fixdir, name, p, shape).astype(np.int32) for p in ("echo", "near", "noise")]
    x = parts[0] + sign * parts[1] + parts[2]
    assert np.abs(x).max() <= 32767, f"{name}: capture clips"
    return x.astype(np.int16)


def cancel(far, mic, fs):
    """The module's output for far (N,) and mic (M, N) int16 with all M
    channels in one frame, and the process CPU seconds it took. One render
    frame per capture frame, with no rate matching and no delay hint: what a
    plain user of the module does (AEC3 finds the delay itself)."""
    apm = rtc.AudioProcessingModule(echo_cancellation=True, high_pass_filter=True)
    m, n = mic.shape
    hop = fs * FRAME_MS // 1000
    out = np.zeros_like(mic)
    interleaved = np.ascontiguousarray(mic.T)
    start = time.process_time()
    for at in range(0, n - hop + 1, hop):
        render = rtc.AudioFrame(bytearray(far[at : at + hop].tobytes()), fs, 1, hop)
        apm.process_reverse_stream(render)
        frame = rtc.AudioFrame(bytearray(interleaved[at : at + hop].tobytes()), fs, m, hop)
        apm.process_stream(frame)
        out[:, at : at + hop] = np.frombuffer(frame.data, dtype=np.int16).reshape(hop, m).T
    return out, time.process_time() - start


def cancel_each(far, mic, fs):
    """cancel() with one module per microphone. The module takes
    multichannel frames and keeps the channels apart, but then cancels far
    less on these fixtures: 6–10 dB ERLE instead of 36–38 dB with the
    loudspeaker at 0.1 m, 14–21 dB instead of 32–38 dB on the 6-mic HAT at
    0.6 m (livekit 1.2.1; on the 4-mic HAT at 0.6 m it does as well)."""
    outs, cpu = zip(*(cancel(far, mic[k : k + 1], fs) for k in range(mic.shape[0])))
    return np.vstack(outs), sum(cpu)


def run_fixture(job):
    sidecar_path, outdir, shared = job
    fixdir, name = sidecar_path.parent, sidecar_path.stem
    fixture = json.loads(sidecar_path.read_text())
    fs = fixture["sample_rate"]
    far, rate = pcm.read(fixdir / f"{name}.far.wav")
    assert rate == fs and far.shape[0] == 1, name
    shape = (len(fixture["mic_positions_m"]), round(fixture["duration_s"] * fs))
    far = np.pad(far[0], (0, max(0, shape[1] - far.shape[1])))
    run = cancel if shared else cancel_each
    plus, cpu = run(far, capture(fixdir, name, shape, +1), fs)
    pcm.write(outdir / f"{name}.plus.wav", plus, fs)
    # With no near talker both signs are the same input: the module is
    # deterministic, so its output is too.
    minus = run(far, capture(fixdir, name, shape, -1), fs)[0] if "near" in fixture["parts"] else plus
    pcm.write(outdir / f"{name}.minus.wav", minus, fs)
    return name, fixture, cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fixdir", type=Path)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--shared-module", action="store_true", help="one module for all microphones")
    parser.add_argument("--max-seconds", type=float, help="skip fixtures longer than this (the hour)")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    args.outdir.mkdir(parents=True, exist_ok=True)
    seconds = {p: json.loads(p.read_text())["duration_s"] for p in args.fixdir.glob("*.json")}
    # The longest first, so that they do not finish last.
    kept = [p for p, s in seconds.items() if args.max_seconds is None or s <= args.max_seconds]
    sidecars = sorted(kept, key=lambda p: (-seconds[p], p))
    if not sidecars:
        sys.exit(f"reference.py: no fixtures in {args.fixdir}")
    jobs = [(p, args.outdir, args.shared_module) for p in sidecars]
    pool = multiprocessing.Pool(args.jobs) if args.jobs > 1 else None
    cpu = None
    # (With jobs > 1 the CPU figure is taken on a shared machine.)
    for name, fixture, seconds in pool.imap_unordered(run_fixture, jobs) if pool else map(run_fixture, jobs):
        print(f"reference: {name} ({seconds:.1f} s CPU)", file=sys.stderr)
        if fixture["headline"] and fixture["kind"] == "far":
            cpu = {
                "ms_per_audio_second": round(1000 * seconds / fixture["duration_s"], 3),
                "fixture": name,
                "channels": len(fixture["mic_positions_m"]),
                "processor": f"livekit {rtc.__version__} AudioProcessingModule (AEC3, high-pass), "
                + ("one module for all microphones" if args.shared_module else "one module per microphone"),
                "note": "process CPU time of the whole reference.py process, Python frame handling included",
            }
    if pool:
        pool.close()
    if cpu:
        (args.outdir / "cpu.json").write_text(json.dumps(cpu, indent=1) + "\n")


if __name__ == "__main__":
    main()
