"""Generates microphone-array fixtures with ground truth for the DOA benchmark.

    fixtures.py OUTDIR [--jobs N]

For each array (microphones and rate from board/<geometry>/profile.toml, the
product's one source of those facts) and each room (anechoic, ShoeBox with
RT60 0.3 s and 0.6 s): SCENES_PER_ROOM scenes of 2–3 talkers speaking in
turn, a cough or a clap in some gaps and a diffuse noise floor; plus one 60 s
scene per array for CPU measurement. Each scene is NAME.wav (16-bit PCM, one
channel per microphone in profile order) and NAME.json (ground truth);
tools/doa/README.md describes both. Everything comes from fixed seeds: two
runs write byte-identical files. Run through tools/gen-doa-fixtures.
"""

import argparse
import functools
import json
import math
import multiprocessing
import os
import subprocess
import sys
import tempfile
import tomllib
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyroomacoustics as pra
from scipy import signal

REPO = Path(__file__).resolve().parents[2]
GEOMETRIES = ("respeaker-4mic-hat", "respeaker-6mic-hat", "respeaker-usb-4mic", "minidsp-uma8")
RT60S = (0.0, 0.3, 0.6)
SCENES_PER_ROOM = 4
SCENE_TARGET_S = (9.0, 12.0)
LONG_SCENE_S = 60.0
LONG_SCENE_RT60 = 0.3

SPEED_OF_SOUND = 343.0
ROOM_DIMS_M = (6.0, 5.0, 3.0)
# A table near the room's centre, off it a little so that opposite walls'
# reflections do not arrive together.
ARRAY_CENTRE_M = (3.1, 2.4, 1.0)
# inverse_sabine asks for order 40 at RT60 0.3 s and 80 at 0.6 s. 80 takes
# ten times as long as 40, and buys little: with 40 the 0.6 s room measures
# T30 ≈ 0.64 s (0.67 s uncapped) and the reference scores move < 0.5 points.
MAX_ORDER_CAP = 40

SNR_DB = 20.0
# Pink noise over DC or up to 24 kHz would put most of its power where no DOA
# looks; over a fixed band the in-band SNR is the same at 16 and 48 kHz, and
# close to SNR_DB in 300–3500 Hz.
NOISE_BAND_HZ = (50.0, 8000.0)
SPEECH_DBFS = -30.0
MIN_SEPARATION_DEG = 40.0
TALKER_DISTANCE_M = (1.0, 2.0)  # horizontal, from the array centre
MOUTH_HEIGHT_M = (1.1, 1.35)  # seated to standing; the array is at 1.0 m
CLAP_HEIGHT_M = (0.9, 1.3)
LEAD_IN_S = 0.5
TAIL_S = 0.5
GAP_S = (0.3, 1.0)
BURST_GAP_S = (0.7, 1.0)  # a gap that holds a burst (≤ 0.3 s) with room around it

# Speech this far under its loudest 10 ms is under the noise floor (which is
# SNR_DB under the mean speech power): silence, as far as DOA can tell.
SILENCE_DB = 30.0
MAX_PAUSE_S = 0.1  # pauses inside an utterance are cut to this
ESPEAK_VARIANTS = ("m1", "m3", "m7", "f2", "f3", "f5")
ESPEAK_RATE = 22050
TEXTS = (
    "Good morning everyone, can you all hear me at the back?",
    "Let's look at the numbers for the third quarter.",
    "I think we should move the launch to next month.",
    "Could you share your screen for a moment, please?",
    "The supplier confirmed the delivery for Thursday.",
    "Sorry, I was on mute. Could you repeat the question?",
    "We still need a decision on the budget for travel.",
    "That sounds reasonable to me, let's go ahead.",
    "Who is taking the notes in today's meeting?",
    "The test results came back better than expected.",
    "Let me check the calendar and get back to you.",
    "Our next review is scheduled for the fifteenth.",
)
# The recorded voice in alsa-utils; Noise.wav there is not speech.
ALSA_DIR = Path("/usr/share/sounds/alsa")
ALSA_CLIPS = (
    "Front_Center",
    "Front_Left",
    "Front_Right",
    "Rear_Center",
    "Rear_Left",
    "Rear_Right",
    "Side_Left",
    "Side_Right",
)
BURST_RATE = 48000


@dataclass
class Sound:
    """One sound placed in a scene: an utterance or a noise burst."""

    role: str  # "talker" or "burst"
    kind: str  # the voice, or the burst's kind
    audio: np.ndarray  # mono at `rate`, RMS 1 at 1 m before `level_db`
    rate: int
    azimuth_deg: float
    elevation_deg: float
    distance_m: float  # 3-D, from the array centre
    start_s: float  # when its direct sound reaches the array centre
    duration_s: float
    level_db: float  # relative to speech
    person: int | None = None
    text: str | None = None


def circular_distance(a, b):
    d = abs(a - b) % 360.0
    return min(d, 360.0 - d)


def spread_azimuths(rng, n, avoid=()):
    """n azimuths on the full circle, at least MIN_SEPARATION_DEG from each
    other and from those in `avoid`."""
    chosen = []
    while len(chosen) < n:
        az = round(float(rng.uniform(0.0, 360.0)), 1) % 360.0
        if all(circular_distance(az, c) >= MIN_SEPARATION_DEG for c in [*avoid, *chosen]):
            chosen.append(az)
    return chosen


def read_wav_mono(path):
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1, path
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return x.astype(np.float64) / 32768.0, rate


def tighten(x, rate):
    """Cuts the silence (10 ms frames SILENCE_DB under the loudest, which is
    under the scene's noise floor) at both ends and shortens pauses inside to
    MAX_PAUSE_S, so that a talker's span holds voice throughout: no window
    inside it sees only noise."""
    hop = rate // 100
    frames = x[: len(x) // hop * hop].reshape(-1, hop)
    energy = (frames**2).mean(axis=1)
    loud = energy > energy.max() * 10 ** (-SILENCE_DB / 10)
    keep, pause = np.zeros_like(loud), 0
    first, last = np.flatnonzero(loud)[[0, -1]]
    for i in range(first, last + 1):
        pause = 0 if loud[i] else pause + 1
        keep[i] = pause * hop <= MAX_PAUSE_S * rate
    return frames[keep].ravel()


def unit_rms(x):
    return x / math.sqrt(np.mean(x**2))


def espeak(text, variant, pitch, speed):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        subprocess.run(
            ["espeak-ng", "-v", f"en-us+{variant}", "-p", str(pitch), "-s", str(speed), "-w", str(out), text],
            check=True,
        )
        x, rate = read_wav_mono(out)
    assert rate == ESPEAK_RATE, rate
    return x


def utterance(rng, voice):
    """(audio, rate, text) of one turn of speech in `voice`."""
    if voice["engine"] == "alsa":
        # Two of the recorded phrases, about as long as a synthetic sentence.
        names = rng.choice(ALSA_CLIPS, size=2, replace=False)
        clips = [read_wav_mono(ALSA_DIR / f"{n}.wav") for n in names]
        assert all(rate == clips[0][1] for _, rate in clips), names
        audio = np.concatenate([clips[0][0], clips[1][0]])
        return tighten(audio, clips[0][1]), clips[0][1], " / ".join(n.replace("_", " ") for n in names)
    text = str(rng.choice(TEXTS))
    speed = int(rng.integers(140, 176))
    return tighten(espeak(text, voice["variant"], voice["pitch"], speed), ESPEAK_RATE), ESPEAK_RATE, text


def clap(rng):
    """A hand clap: a sharp broadband transient with a fast decay."""
    t = np.arange(int(0.12 * BURST_RATE)) / BURST_RATE
    x = rng.standard_normal(len(t)) * np.exp(-t / rng.uniform(0.008, 0.02))
    return signal.sosfilt(signal.butter(2, 300, "highpass", fs=BURST_RATE, output="sos"), x)


def cough(rng):
    """A cough: band-limited noise with a quick attack and a slower decay."""
    t = np.arange(int(rng.uniform(0.2, 0.3) * BURST_RATE)) / BURST_RATE
    env = (1 - np.exp(-t / 0.01)) * np.exp(-t / rng.uniform(0.05, 0.09))
    x = rng.standard_normal(len(t)) * env
    return signal.sosfilt(signal.butter(2, (200, 5000), "bandpass", fs=BURST_RATE, output="sos"), x)


def place(rng, height_range):
    """(elevation_deg, 3-D distance) of a source at a random horizontal
    distance and height, seen from the array centre."""
    horizontal = float(rng.uniform(*TALKER_DISTANCE_M))
    rise = float(rng.uniform(*height_range)) - ARRAY_CENTRE_M[2]
    return math.degrees(math.atan2(rise, horizontal)), math.hypot(horizontal, rise)


def plan_scene(seed, target_s, n_bursts):
    """The sounds of a scene and its duration (target_s, or more when the
    last turn runs over): who speaks where and when, with bursts in some
    gaps. Depends on the seed only, so every array hears the same scene."""
    rng = np.random.default_rng(seed)
    n_talkers = int(rng.integers(2, 4))
    azimuths = spread_azimuths(rng, n_talkers)
    variants = rng.choice(ESPEAK_VARIANTS, size=n_talkers, replace=False)
    voices = [{"engine": "espeak", "variant": str(v), "pitch": int(rng.integers(30, 71))} for v in variants]
    if rng.random() < 0.5:
        voices[int(rng.integers(n_talkers))] = {"engine": "alsa"}
    persons = [(az, *place(rng, MOUTH_HEIGHT_M)) for az in azimuths]

    # Turns while they fit in target_s, and at least one gap per burst.
    turns, planned, speaker = [], LEAD_IN_S + TAIL_S, int(rng.integers(n_talkers))
    while True:
        audio, rate, text = utterance(rng, voices[speaker])
        length = len(audio) / rate + sum(GAP_S) / 2
        if len(turns) > n_bursts and planned + length > target_s:
            break
        turns.append((speaker, audio, rate, text))
        planned += length
        speaker = (speaker + int(rng.integers(1, n_talkers))) % n_talkers
    burst_gaps = set(int(g) for g in rng.choice(len(turns) - 1, size=n_bursts, replace=False))

    sounds, t = [], LEAD_IN_S
    for i, (speaker, audio, rate, text) in enumerate(turns):
        az, el, dist = persons[speaker]
        v = voices[speaker]
        kind = "alsa recorded voice" if v["engine"] == "alsa" else f"espeak-ng en-us+{v['variant']} pitch {v['pitch']}"
        duration = round(len(audio) / rate, 3)
        sounds.append(Sound("talker", kind, unit_rms(audio), rate, az, el, dist, t, duration, 0.0, speaker, text))
        t = round(t + duration, 3)
        if i in burst_gaps:
            gap = round(float(rng.uniform(*BURST_GAP_S)), 3)
            kind = "clap" if rng.random() < 0.5 else "cough"
            audio = clap(rng) if kind == "clap" else cough(rng)
            level = float(rng.uniform(0.0, 6.0) if kind == "clap" else rng.uniform(-3.0, 3.0))
            # Away from every talker, not necessarily from other bursts.
            (az,) = spread_azimuths(rng, 1, avoid=azimuths)
            el, dist = place(rng, CLAP_HEIGHT_M if kind == "clap" else MOUTH_HEIGHT_M)
            duration = round(len(audio) / BURST_RATE, 3)
            start = round(t + (gap - duration) / 2, 3)
            sounds.append(Sound("burst", kind, unit_rms(audio), BURST_RATE, az, el, dist, start, duration, level))
            t = round(t + gap, 3)
        else:
            t = round(t + float(rng.uniform(*GAP_S)), 3)
    last_end = max(s.start_s + s.duration_s for s in sounds)
    return sounds, max(round(last_end + TAIL_S, 3), target_s)


def at_rate(sound, fs):
    """The sound's audio at fs, exactly duration_s long."""
    g = math.gcd(fs, sound.rate)
    x = signal.resample_poly(sound.audio, fs // g, sound.rate // g) if fs != sound.rate else sound.audio
    n = round(sound.duration_s * fs)
    return np.pad(x, (0, max(0, n - len(x))))[:n] * 10 ** (sound.level_db / 20)


def direction(azimuth_deg, elevation_deg):
    az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
    return np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])


def far_field(x, mics, u, fs):
    """x as each microphone hears a plane wave from direction u:
    τ_m = −(p_m·u)/c, applied as an exact fractional delay in the frequency
    domain. Returns (M, len) and the base delay (samples) added in front so
    that every τ_m is causal."""
    # (+32: room for the fractional delay's ringing before the sound.)
    base = math.ceil(np.abs(mics @ u).max() / SPEED_OF_SOUND * fs) + 32
    n = len(x) + 2 * base
    f = np.fft.rfftfreq(n, 1 / fs)
    tau = base / fs - (mics @ u) / SPEED_OF_SOUND
    y = np.fft.irfft(np.fft.rfft(x, n)[None, :] * np.exp(-2j * np.pi * f[None, :] * tau[:, None]), n)
    return y, base


def add_at(buf, y, at):
    """Adds y (M, n) into buf (M, N) starting at sample `at`, clipped to buf."""
    lo, hi = max(at, 0), min(at + y.shape[1], buf.shape[1])
    if lo < hi:
        buf[:, lo:hi] += y[:, lo - at : hi - at]


def sounding(track):
    """(first sample, track from there to its last sound): a burst's track is
    mostly silence, not worth convolving."""
    active = np.flatnonzero(track)
    return active[0], track[active[0] : active[-1] + 1]


def pink_noise(rng, m, n, fs):
    """m channels of independent pink noise in NOISE_BAND_HZ, unit power each."""
    spectrum = np.fft.rfft(rng.standard_normal((m, n)), axis=1)
    f = np.fft.rfftfreq(n, 1 / fs)
    in_band = (f >= NOISE_BAND_HZ[0]) & (f <= NOISE_BAND_HZ[1])
    spectrum *= np.where(in_band, 1 / np.sqrt(np.maximum(f, NOISE_BAND_HZ[0])), 0.0)[None, :]
    x = np.fft.irfft(spectrum, n, axis=1)
    return x / np.sqrt((x**2).mean(axis=1, keepdims=True))


def render(sounds, duration_s, mics, fs, rt60, seed):
    """The array's signals (M, N) as floats in [-1, 1], and the room and level
    facts for the sidecar."""
    n = round(duration_s * fs)
    # One dry track per place in the room (a talker's turns, a burst), so that
    # each place is simulated and convolved once.
    tracks = {}
    for s in sounds:
        dry = tracks.setdefault((s.role, s.azimuth_deg, s.elevation_deg, s.distance_m), np.zeros(n))
        add_at(dry[None, :], at_rate(s, fs)[None, :], round(s.start_s * fs))
    speech, bursts = np.zeros((len(mics), n)), np.zeros((len(mics), n))
    centre = np.array(ARRAY_CENTRE_M)
    if rt60 == 0:
        room_facts = {
            "kind": "free-field",
            "model": "far-field plane wave, fractional delay in the frequency domain; gain 1/distance",
        }
        for (role, az, el, dist), dry in tracks.items():
            start, dry = sounding(dry)
            y, base = far_field(dry, mics, direction(az, el), fs)
            add_at(speech if role == "talker" else bursts, y / dist, start - base)
    else:
        absorption, sabine_order = pra.inverse_sabine(rt60, ROOM_DIMS_M)
        order = min(sabine_order, MAX_ORDER_CAP)
        room = pra.ShoeBox(ROOM_DIMS_M, fs=fs, materials=pra.Material(absorption), max_order=order)
        for _, az, el, dist in tracks:
            room.add_source(centre + dist * direction(az, el))
        room.add_microphone_array((centre + mics).T)
        room.compute_rir()
        # pyroomacoustics puts the direct path at distance/c plus half its
        # fractional-delay filter.
        filter_delay = pra.constants.get("frac_delay_length") // 2
        for k, ((role, _, _, dist), dry) in enumerate(tracks.items()):
            rirs = [room.rir[m][k] for m in range(len(mics))]
            h = np.zeros((len(mics), max(map(len, rirs))))
            for m, r in enumerate(rirs):
                h[m, : len(r)] = r
            start, dry = sounding(dry)
            # 4π: the same 1/distance gain as the anechoic scenes.
            y = signal.oaconvolve(dry[None, :], h * 4 * np.pi, axes=1)
            lead = round(dist / SPEED_OF_SOUND * fs) + filter_delay
            add_at(speech if role == "talker" else bursts, y, start - lead)
        measured = [pra.experimental.measure_rt60(room.rir[m][0], fs, decay_db=30) for m in range(len(mics))]
        room_facts = {
            "kind": "shoebox",
            "simulator": f"pyroomacoustics {pra.__version__} image sources",
            "dims_m": list(ROOM_DIMS_M),
            "absorption": round(float(absorption), 4),
            "max_order": int(order),
            "max_order_sabine": int(sabine_order),
            "rt60_measured_s": round(float(np.mean(measured)), 3),
        }
    room_facts |= {
        "array_centre_m": list(ARRAY_CENTRE_M),
        "source_distance_m": list(TALKER_DISTANCE_M),
    }

    spans = np.zeros(n, dtype=bool)
    for s in sounds:
        if s.role == "talker":
            spans[round(s.start_s * fs) : round((s.start_s + s.duration_s) * fs)] = True
    speech_power = float((speech[:, spans] ** 2).mean())
    noise_rms = math.sqrt(speech_power / 10 ** (SNR_DB / 10))
    mix = speech + bursts + noise_rms * pink_noise(np.random.default_rng([seed, 1]), len(mics), n, fs)
    scale = 10 ** (SPEECH_DBFS / 20) / math.sqrt(speech_power)
    scale = min(scale, 0.99 / np.abs(mix).max())  # never clip
    levels = {
        "speech_dbfs": round(20 * math.log10(scale * math.sqrt(speech_power)), 2),
        "noise_floor_db": round(20 * math.log10(scale * noise_rms), 2),
    }
    return mix * scale, room_facts, levels


def write_wav(path, x, fs):
    pcm = np.clip(np.round(x.T * 32767), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(x.shape[0])
        w.setsampwidth(2)
        w.setframerate(fs)
        w.writeframes(pcm.tobytes())


def load_geometry(name):
    profile = tomllib.loads((REPO / "board" / name / "profile.toml").read_text())
    return np.array(profile["mics"], dtype=np.float64), int(profile["rate"])


def scene_jobs():
    """(name, geometry, rt60, seed, target_s, n_bursts, purpose) of every
    scene, the long ones first so that they do not finish last. The seed
    depends on room and scene, not on the array."""
    jobs = []
    for g in GEOMETRIES:
        jobs.append((f"{g}-long-60s", g, LONG_SCENE_RT60, 9000, LONG_SCENE_S, 5, "cpu"))
    for g in GEOMETRIES:
        for r, rt60 in enumerate(RT60S):
            room = "anechoic" if rt60 == 0 else f"rt60-{rt60}"
            for i in range(SCENES_PER_ROOM):
                seed = 100 * (r + 1) + i
                target = SCENE_TARGET_S[0] + (SCENE_TARGET_S[1] - SCENE_TARGET_S[0]) * i / (SCENES_PER_ROOM - 1)
                jobs.append((f"{g}-{room}-{i}", g, rt60, seed, target, 1 + i % 2, "accuracy"))
    return jobs


def make_scene(job, outdir):
    name, geometry, rt60, seed, target_s, n_bursts, purpose = job
    # The image sources' sum depends on how many threads share it: one thread
    # gives the same bytes whatever the number of cores (and the scenes are
    # already spread over the cores).
    pra.constants.set("num_threads", 1)
    mics, fs = load_geometry(geometry)
    sounds, duration = plan_scene(seed, target_s, n_bursts)
    x, room_facts, levels = render(sounds, duration, mics, fs, rt60, seed)
    write_wav(outdir / f"{name}.wav", x, fs)

    def span(s):
        return {"azimuth_deg": s.azimuth_deg, "start_s": s.start_s, "end_s": round(s.start_s + s.duration_s, 3)}

    talkers = [s for s in sounds if s.role == "talker"]
    bursts = [s for s in sounds if s.role == "burst"]
    sidecar = {
        "sample_rate": fs,
        "mic_positions_m": mics.tolist(),
        "talkers": [span(s) for s in talkers],
        "rt60_s": rt60,
        "geometry": geometry,
        "purpose": purpose,
        "duration_s": duration,
        "bursts": [span(s) | {"kind": s.kind} for s in bursts],
        "snr_db": SNR_DB,
        **levels,
        "seed": seed,
        "room": room_facts,
        # Item by item with talkers and bursts: where exactly the source stood
        # (elevation towards +z) and what it said.
        "talker_sources": [
            {
                "person": s.person,
                "distance_m": round(s.distance_m, 3),
                "elevation_deg": round(s.elevation_deg, 2),
                "voice": s.kind,
                "text": s.text,
            }
            for s in talkers
        ],
        "burst_sources": [
            {
                "distance_m": round(s.distance_m, 3),
                "elevation_deg": round(s.elevation_deg, 2),
                "level_db": round(s.level_db, 2),
            }
            for s in bursts
        ],
    }
    (outdir / f"{name}.json").write_text(sidecar_json(sidecar))
    return name, x.shape[1] / fs


def sidecar_json(sidecar):
    """JSON with a line per key, and per item of a list of lists or objects."""

    def value(v):
        if isinstance(v, list) and v and isinstance(v[0], (list, dict)):
            return "[\n" + ",\n".join(f"  {json.dumps(item)}" for item in v) + "\n ]"
        return json.dumps(v)

    return "{\n" + ",\n".join(f" {json.dumps(k)}: {value(v)}" for k, v in sidecar.items()) + "\n}\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    args = parser.parse_args()
    args.outdir.mkdir(parents=True, exist_ok=True)
    jobs = scene_jobs()
    with multiprocessing.Pool(args.jobs) as pool:
        for name, seconds in pool.imap_unordered(functools.partial(make_scene, outdir=args.outdir), jobs):
            print(f"fixtures: {name} ({seconds:.1f} s)", file=sys.stderr)
    print(f"fixtures: {len(jobs)} scenes in {args.outdir}", file=sys.stderr)


if __name__ == "__main__":
    main()
