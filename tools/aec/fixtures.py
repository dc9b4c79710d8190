"""Generates echo-cancellation fixtures with their parts apart: what the box
plays, and the echo, near talker and noise at its microphones.

    fixtures.py OUTDIR [--quick] [--jobs N]

For each array (microphones from board/<geometry>/profile.toml), loudspeaker
distance and room: `far` (only the far end talks, through the box's
loudspeaker), `near` (only a talker in the room) and `double` (the far end
throughout, the room talker over it for a few seconds at equal level); plus,
on the 6-mic HAT with the loudspeaker at 0.6 m in the RT60 0.3 s room, far
end only with 300 ms more output delay, with the loudspeaker's clock 100 ppm
fast for 60 s, and for an hour (one microphone, no noise). tools/aec/README.md
describes the files. Fixed seeds: two runs write byte-identical files. Run
through tools/gen-aec-fixtures.
"""

import argparse
import functools
import importlib.util
import math
import multiprocessing
import os
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pyroomacoustics as pra
from scipy import signal

import pcm

REPO = Path(__file__).resolve().parents[2]
# tools/doa/fixtures.py shares this file's module name: load it by path. Its
# speech (espeak-ng voices cut to their voice), pink noise, room constants,
# board profiles and sidecar layout are the DOA fixtures' too.
_spec = importlib.util.spec_from_file_location("doa_fixtures", REPO / "tools" / "doa" / "fixtures.py")
doa = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(doa)

FS = 16000
GEOMETRIES = ("respeaker-6mic-hat", "respeaker-4mic-hat")
SPEAKER_DISTANCES_M = (0.1, 0.6)  # horizontal, at the array's height
RT60S = (0.3, 0.6)
HEADLINE = ("respeaker-6mic-hat", 0.6, 0.3)
TALKER_DISTANCE_M = (1.0, 1.5)

# What the box writes (P.56-like active level), and what reaches the mics.
FAR_DBFS = -26.0
ECHO_DBFS = -30.0  # over the far spans, pooled over the microphones
NEAR_DBFS = -30.0  # near fixtures; in double talk the near talker matches the echo
# Per microphone: a quiet room. ERLE counts the noise left in the output as
# echo, so a floor 35 dB under the echo would cap any canceller that passes
# noise through at 35 dB, below what the benchmark asks of the echo.
NOISE_DBFS = -80.0
# The largest |echo| + |near| + |noise|: capture = echo ± near + noise never clips.
HEADROOM = 0.9

# The loudspeaker's clock is resampled onto the microphones' by a polyphase
# windowed sinc 64 input samples each side; flat to ~7 kHz, 110 dB exact
# (measured on tones), so the drift is the only thing it adds.
DRIFT_FIR_HALF = 64
DRIFT_FIR_CUTOFF_HZ = 7500.0
DRIFT_FIR_KAISER = 10.0
BLOCK_S = 60  # blockwise drift and convolution: an hour stays small

SECONDS = {"far": 20.0, "near": 12.0, "double": 20.0}
LEAD_IN_S = 0.5


def scene(kind, seconds):
    """When the far end and the room talker talk: (start_s, end_s, gap_s)
    and (start_s, end_s, gap_s, speech_s), or None for one who does not."""
    if kind == "far":
        return (LEAD_IN_S, seconds - 0.5, (0.3, 1.2)), None
    if kind == "near":
        return None, (LEAD_IN_S, seconds - 0.5, (0.3, 1.0), math.inf)
    # Short far-end gaps: the far end talks throughout, 6.5 s alone before
    # the room talker's ~4 s and 5 s or more alone after.
    return (LEAD_IN_S, seconds - 0.5, (0.15, 0.4)), (7.0, 13.0, (0.2, 0.4), 3.5)


def resampled(x, rate, fs):
    g = math.gcd(fs, rate)
    return signal.resample_poly(x, fs // g, rate // g) if rate != fs else x


def voice_pool(rng, variants, per_voice):
    """per_voice utterances in each espeak-ng variant, at FS, RMS 1."""
    pool = []
    for v in variants:
        voice = {"engine": "espeak", "variant": str(v), "pitch": int(rng.integers(30, 71))}
        for _ in range(per_voice):
            audio, rate, _ = doa.utterance(rng, voice)
            pool.append(doa.unit_rms(resampled(audio, rate, FS)))
    return pool


def talk(rng, pool, n, start_s, end_s, gap_s, speech_s=math.inf):
    """A track of n samples: utterances from pool in random order from
    start_s with gaps from gap_s, while they end by end_s and until speech_s
    has been said; and their [first, end) samples."""
    track, spans = np.zeros(n), []
    at, said = round(start_s * FS), 0
    while said < speech_s * FS:
        u = pool[int(rng.integers(len(pool)))]
        if at + len(u) > end_s * FS:
            break
        track[at : at + len(u)] = u
        spans.append((at, at + len(u)))
        said += len(u)
        at += len(u) + round(float(rng.uniform(*gap_s)) * FS)
    return track, spans


def drifted(x, n, ratio):
    """x, sampled by a clock `ratio` times as fast as the microphones', on
    the microphones' grid: y[j] = x(j·ratio), n samples. Polyphase blocks
    with a margin of one period of the phase pattern on each side, so the
    blocks join seamlessly."""
    up, down = ratio.denominator, ratio.numerator
    fir = signal.firwin(
        2 * DRIFT_FIR_HALF * up + 1, DRIFT_FIR_CUTOFF_HZ, fs=FS * up, window=("kaiser", DRIFT_FIR_KAISER)
    )
    q = max(1, BLOCK_S * FS // up)
    step_in, step_out = down * q, up * q
    y = np.zeros(n)
    for b in range(math.ceil(n / step_out)):
        lo = b * step_in - down
        seg = np.zeros(step_in + 2 * down)
        src = x[max(lo, 0) : lo + len(seg)]
        seg[max(-lo, 0) : max(-lo, 0) + len(src)] = src
        part = signal.resample_poly(seg, up, down, window=fir)[up : up + step_out]
        y[b * step_out : (b + 1) * step_out] = part[: n - b * step_out]
    return y


def emitted(far, n, delay, ppm):
    """What the loudspeaker emits, on the microphones' sample grid (n
    samples): far (the speaker's clock) `delay` samples late, its clock ppm
    fast."""
    if ppm == 0:
        y = np.zeros(n)
        y[delay:] = far[: n - delay]
        return y
    assert delay == 0, "drift and extra delay are not combined"
    return drifted(far, n, 1 + Fraction(ppm, 1_000_000))


def convolved(x, h):
    """x (n,) through the room h (M, L), the first n samples, blockwise."""
    m, length = h.shape
    out = np.zeros((m, len(x) + length))
    step = BLOCK_S * FS
    for at in range(0, len(x), step):
        seg = x[at : at + step]
        if seg.any():
            out[:, at : at + len(seg) + length - 1] += signal.oaconvolve(seg[None, :], h, axes=1)
    return out[:, : len(x)]


def room_paths(mics, rt60, speaker, talker):
    """Room responses (M, L) from the loudspeaker and the talker to the
    mics, the room's facts and the latency (samples) pyroomacoustics puts
    before every direct path: half its fractional-delay filter, which
    stands in here for the converters' latency."""
    absorption, sabine_order = pra.inverse_sabine(rt60, doa.ROOM_DIMS_M)
    order = min(sabine_order, doa.MAX_ORDER_CAP)
    room = pra.ShoeBox(doa.ROOM_DIMS_M, fs=FS, materials=pra.Material(absorption), max_order=order)
    room.add_source(speaker)
    room.add_source(talker)
    centre = np.array(doa.ARRAY_CENTRE_M)
    room.add_microphone_array((centre + mics).T)
    room.compute_rir()
    paths = []
    for k in range(2):
        rirs = [room.rir[m][k] for m in range(len(mics))]
        h = np.zeros((len(mics), max(map(len, rirs))))
        for m, r in enumerate(rirs):
            h[m, : len(r)] = r
        paths.append(h)
    measured = [pra.experimental.measure_rt60(room.rir[m][1], FS, decay_db=30) for m in range(len(mics))]
    facts = {
        "simulator": f"pyroomacoustics {pra.__version__} image sources",
        "dims_m": list(doa.ROOM_DIMS_M),
        "array_centre_m": list(doa.ARRAY_CENTRE_M),
        "absorption": round(float(absorption), 4),
        "max_order": int(order),
        "rt60_measured_s": round(float(np.mean(measured)), 3),
    }
    return paths[0], paths[1], facts, pra.constants.get("frac_delay_length") // 2


def power(x, mask):
    """Mean square over the masked samples, pooled over channels."""
    return float((x[:, mask] ** 2).mean()) if mask.any() else 0.0


def mask_of(spans, n):
    mask = np.zeros(n, dtype=bool)
    for lo, hi in spans:
        mask[round(lo * FS) : round(hi * FS)] = True
    return mask


def intersect(a, b):
    out = []
    for lo, hi in a:
        for lo2, hi2 in b:
            if min(hi, hi2) > max(lo, lo2):
                out.append([max(lo, lo2), min(hi, hi2)])
    return sorted(out)


def dbfs(p):
    return round(10 * math.log10(p), 2) if p > 0 else None


def fixture_jobs(quick):
    """(name, geometry, speaker distance, rt60, kind, seconds, extra delay ms,
    drift ppm, seed), the long ones first. The seed depends on the scene,
    not the array: both arrays hear the same scenes."""
    g, d, r = HEADLINE
    extras = [("drift3600", 3600.0, 0, 100, 9003), ("drift60", 60.0, 0, 100, 9002), ("delay300", 20.0, 300, 0, 9001)]
    jobs = [(f"{g}-d{d:g}-rt{r:g}-{x}", g, d, r, "far", s, ms, ppm, seed) for x, s, ms, ppm, seed in extras]
    for geometry in GEOMETRIES:
        for i, d in enumerate(SPEAKER_DISTANCES_M):
            for j, r in enumerate(RT60S):
                for k, kind in enumerate(SECONDS):
                    seed = 100 * (k + 1) + 10 * i + j
                    name = f"{geometry}-d{d:g}-rt{r:g}-{kind}"
                    jobs.append((name, geometry, d, r, kind, SECONDS[kind], 0, 0, seed))
    if quick:
        # The headline scenes and the extra delay: a minute of audio in all.
        jobs = [j for j in jobs if (j[1], j[2], j[3]) == HEADLINE and j[5] <= 20]
    return jobs


def make_fixture(job, outdir):
    name, geometry, distance, rt60, kind, seconds, extra_ms, ppm, seed = job
    # Image sources summed on one thread: the same bytes on any machine.
    pra.constants.set("num_threads", 1)
    mics, fs = doa.load_geometry(geometry)
    assert fs == FS, (geometry, fs)
    hour = seconds > 600
    if hour:
        # One microphone and no noise: an hour of six channels would be 1.4 GB.
        mics = mics[:1]
    n = round(seconds * FS)
    rng = np.random.default_rng(seed)
    far_plan, near_plan = scene(kind, seconds)

    # The loudspeaker at the array's height; the talker's mouth above the
    # table, at least 40° away from it.
    speaker_az, talker_az = doa.spread_azimuths(rng, 2)
    horizontal = float(rng.uniform(*TALKER_DISTANCE_M))
    rise = float(rng.uniform(*doa.MOUTH_HEIGHT_M)) - doa.ARRAY_CENTRE_M[2]
    talker_el, talker_dist = math.degrees(math.atan2(rise, horizontal)), math.hypot(horizontal, rise)
    centre = np.array(doa.ARRAY_CENTRE_M)
    speaker_pos = centre + distance * doa.direction(speaker_az, 0.0)
    talker_pos = centre + talker_dist * doa.direction(talker_az, talker_el)
    h_speaker, h_talker, room, lead = room_paths(mics, rt60, speaker_pos, talker_pos)
    variants = rng.choice(doa.ESPEAK_VARIANTS, size=3, replace=False)

    # The far end: what the box writes, in the speaker's clock, which plays
    # n_far samples while the microphones record n.
    ratio = 1 + ppm * 1e-6
    n_far = math.ceil(n * ratio)
    far_q = np.zeros((1, n_far), dtype=np.int16)
    echo, far_spans, far_level = np.zeros((len(mics), n)), [], None
    if far_plan:
        pool = voice_pool(rng, variants[:2], 8 if hour else 4)
        track, spans = talk(rng, pool, n_far, *far_plan)
        played = mask_of([(lo / FS, hi / FS) for lo, hi in spans], n_far)
        far = track * 10 ** (FAR_DBFS / 20) / math.sqrt(float((track[played] ** 2).mean()))
        far_q = pcm.to_int16(far * min(1.0, HEADROOM / np.abs(far).max()))[None, :]
        far_level = dbfs(power(far_q / 32768.0, played))
        # The echo of the very samples the box wrote.
        echo = convolved(emitted(far_q[0] / 32768.0, n, round(extra_ms * FS / 1000), ppm), h_speaker)
        lead_s = extra_ms / 1000 + distance / doa.SPEED_OF_SOUND + lead / FS
        for lo, hi in spans:
            start, end = lead_s + lo / (FS * ratio), min(seconds, lead_s + hi / (FS * ratio))
            if start < seconds:
                far_spans.append([round(start, 3), round(end, 3)])
        echo *= 10 ** (ECHO_DBFS / 20) / math.sqrt(power(echo, mask_of(far_spans, n)))

    near, near_spans = np.zeros((len(mics), n)), []
    if near_plan:
        pool = voice_pool(rng, variants[2:], 4)
        track, spans = talk(rng, pool, n, *near_plan)
        near = convolved(track, h_talker)
        lead_s = talker_dist / doa.SPEED_OF_SOUND + lead / FS
        near_spans = [[round(lead_s + lo / FS, 3), round(lead_s + hi / FS, 3)] for lo, hi in spans]
    double_spans = intersect(far_spans, near_spans)
    if far_plan and near_plan:
        # Equal power of echo and near speech at the mics while both talk.
        both = mask_of(double_spans, n)
        near *= math.sqrt(power(echo, both) / power(near, both))
    elif near_plan:
        near *= 10 ** (NEAR_DBFS / 20) / math.sqrt(power(near, mask_of(near_spans, n)))
    noise = np.zeros((len(mics), n))
    if not hour:
        noise = doa.pink_noise(np.random.default_rng([seed, 1]), len(mics), n, FS) * 10 ** (NOISE_DBFS / 20)

    # One scale for all parts (the levels above, unless the sum would clip).
    scale = min(1.0, HEADROOM / (np.abs(echo) + np.abs(near) + np.abs(noise)).max())
    written = {}
    for part, x in (("echo", echo), ("near", near), ("noise", noise)):
        if x.any():
            written[part] = pcm.to_int16(x * scale)
            pcm.write(outdir / f"{name}.{part}.wav", written[part], FS)
    pcm.write(outdir / f"{name}.far.wav", far_q, FS)

    def level(part, spans):
        return dbfs(power(written[part] / 32768.0, mask_of(spans, n))) if part in written else None

    sidecar = {
        "sample_rate": FS,
        "geometry": geometry,
        "mic_positions_m": mics.tolist(),
        "rt60_s": rt60,
        "loudspeaker_distance_m": distance,
        "kind": kind,
        "extra_delay_ms": extra_ms,
        "drift_ppm": ppm,
        "duration_s": seconds,
        "far_spans": far_spans,
        "near_spans": near_spans,
        "double_spans": double_spans,
        "headline": (geometry, distance, rt60) == HEADLINE and not extra_ms and not ppm,
        "seed": seed,
        # A part with no file is silent throughout.
        "parts": sorted(written),
        "levels_dbfs": {
            "far": far_level,
            "echo": level("echo", far_spans),
            "near": level("near", near_spans),
            "noise": level("noise", [(0, seconds)]),
        },
        "loudspeaker_azimuth_deg": speaker_az,
        "talker": {"azimuth_deg": talker_az, "distance_m": round(talker_dist, 3), "elevation_deg": round(talker_el, 2)},
        "room": room,
    }
    if hour:
        sidecar["note"] = "one microphone (mic 0 of the profile) and no noise file, to keep an hour small"
    (outdir / f"{name}.json").write_text(doa.sidecar_json(sidecar))
    return name, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--quick", action="store_true", help="only the headline scenes and the extra delay")
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    args = parser.parse_args()
    args.outdir.mkdir(parents=True, exist_ok=True)
    jobs = fixture_jobs(args.quick)
    with multiprocessing.Pool(args.jobs) as pool:
        for name, seconds in pool.imap_unordered(functools.partial(make_fixture, outdir=args.outdir), jobs):
            print(f"fixtures: {name} ({seconds:g} s)", file=sys.stderr)
    print(f"fixtures: {len(jobs)} fixtures in {args.outdir}", file=sys.stderr)


if __name__ == "__main__":
    main()
