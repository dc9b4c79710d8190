#!/usr/bin/env python3
"""Judges what the VM test (tools/vm-test) brought back from the VM.

    judge.py RESULTS_DIR PICTURE.jpg CONSOLE.log H264_FIXTURE_DIR

Prints one line per check (`vm test: <check> ok|FAIL …`), then `N passed`
(counted by tools/test) and exits 1 when any check failed or did not run.
"""
import re
import subprocess
import sys
import wave
from pathlib import Path

CHECKS = ["vivid", "mjpeg", "h264", "mics", "unplug"]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class Failed(Exception):
    pass


def need(cond, why):
    if not cond:
        raise Failed(why)


def read_y4m(path):
    """(width, height, [luma planes as bytes])."""
    data = path.read_bytes()
    header, _, rest = data.partition(b"\n")
    need(header.startswith(b"YUV4MPEG2 "), f"{path.name}: not a Y4M file")
    fields = dict((f[:1], f[1:]) for f in header.split()[1:])
    w, h = int(fields[b"W"]), int(fields[b"H"])
    need(fields.get(b"C", b"420") .startswith(b"420"), f"{path.name}: not 4:2:0 ({fields.get(b'C')})")
    size = w * h * 3 // 2
    frames, at = [], 0
    while at < len(rest):
        need(rest[at : at + 6] == b"FRAME\n", f"{path.name}: frame {len(frames)} has no FRAME tag")
        at += 6
        need(at + size <= len(rest), f"{path.name}: frame {len(frames)} cut short")
        frames.append(rest[at : at + w * h])
        at += size
    return w, h, frames


def recorded(results, name, pixels):
    """Checks record-camera's own account of a capture: the format it
    negotiated and strictly increasing sequence numbers."""
    err = (results / f"{name}.err").read_text(errors="replace") if (results / f"{name}.err").exists() else ""
    need((results / f"{name}.y4m").exists(), f"record-camera wrote no {name}.y4m: {err.strip()[-300:]}")
    m = re.search(r"\((\w+) (\d+)×(\d+) → I420\)", err)
    need(m, f"no negotiated format in record-camera's summary: {err.strip()[-300:]}")
    need(m.group(1) in pixels, f"negotiated {m.group(1)}, wanted one of {pixels}")
    need((m.group(2), m.group(3)) == ("640", "480"), f"negotiated {m.group(2)}×{m.group(3)}, asked for 640×480")
    seqs = [int(s) for s in re.findall(r"^frame seq=(\d+) 640x480 bytes=460800$", (results / f"{name}.out").read_text(), re.M)]
    need(len(seqs) >= 5, f"{len(seqs)} frame lines of 640x480 I420, wanted 5+")
    need(all(b > a for a, b in zip(seqs, seqs[1:])), f"sequence numbers do not increase: {seqs}")
    return m.group(1), seqs


def check_vivid(results, _picture):
    pixels, seqs = recorded(results, "vivid", ("Yuyv", "Nv12"))
    w, h, frames = read_y4m(results / "vivid.y4m")
    need((w, h) == (640, 480) and len(frames) == len(seqs), f"Y4M is {w}×{h} with {len(frames)} frames")
    spans = [max(f) - min(f) for f in frames]
    need(min(spans) >= 100, f"luma nearly constant within a frame (max−min per frame {spans})")
    changed = [sum(1 for a, b in zip(f, g) if a != b) for f, g in zip(frames, frames[1:])]
    need(min(changed) > 0, f"consecutive frames identical (pixels changed: {changed})")
    return f"{pixels} 640×480, {len(frames)} frames, seq {seqs}, luma span {min(spans)}–{max(spans)}, {min(changed)}+ pixels change per frame"


def expected_luma(picture):
    """The picture's luma as the box carries it: JFIF full range mapped to
    BT.601 limited range (16–235)."""
    pgm = subprocess.run(["djpeg", "-grayscale", "-pnm", str(picture)], check=True, capture_output=True).stdout
    parts = pgm.split(maxsplit=4)
    need(parts[0] == b"P5" and parts[1:3] == [b"640", b"480"], "djpeg did not give a 640×480 PGM")
    return [16 + v * 219 / 255 for v in parts[4]]


def psnr(a, b):
    import math

    mse = sum((x - y) ** 2 for x, y in zip(a, b)) / len(a)
    return 99.0 if mse == 0 else 10 * math.log10(255**2 / mse)


def check_mjpeg(results, picture):
    _, seqs = recorded(results, "mjpeg", ("Mjpeg",))
    _, _, frames = read_y4m(results / "mjpeg.y4m")
    want = expected_luma(picture)
    scores = [psnr(f, want) for f in frames]
    # The first buffer from v4l2loopback can be stale: leading frames that do
    # not match are allowed, as long as every frame from the first match on does.
    first = next((i for i, s in enumerate(scores) if s > 30), None)
    need(first is not None, f"no frame matches the picture (luma PSNR {[round(s, 1) for s in scores]} dB)")
    need(first <= 1 and all(s > 30 for s in scores[first:]), f"luma PSNR per frame {[round(s, 1) for s in scores]} dB, wanted > 30 from the first match on")
    stale = f", {first} stale first frame(s)" if first else ""
    return f"Mjpeg 640×480 (UVC-style, no DHT), {len(frames)} frames, seq {seqs}, luma PSNR {min(scores[first:]):.1f}–{max(scores[first:]):.1f} dB{stale}"


def check_h264(results, _picture):
    """Passthrough: every access unit recorded is one the camera sent, byte
    for byte, in the camera's order (by sequence number, through the
    feeder's loop)."""
    err = (results / "h264.err").read_text(errors="replace") if (results / "h264.err").exists() else ""
    need((results / "h264.h264").exists(), f"record-camera wrote no h264.h264: {err.strip()[-300:]}")
    need("H.264 640×480 passed through" in err, f"not passed through: {err.strip()[-300:]}")
    lines = re.findall(r"^frame seq=(\d+) 640x480 bytes=(\d+)$", (results / "h264.out").read_text(), re.M)
    need(len(lines) >= 12, f"{len(lines)} frame lines, wanted 12")
    data = (results / "h264.h264").read_bytes()
    need(sum(int(b) for _, b in lines) == len(data), "frame sizes do not add up to the file")
    fixture = [p.read_bytes() for p in sorted(H264_FIXTURE.glob("au-*.h264"))]
    units, at = [], 0
    for seq, size in lines:
        units.append((int(seq), data[at : at + int(size)]))
        at += int(size)
    where = [fixture.index(u) if u in fixture else None for _, u in units]
    # As with MJPEG, v4l2loopback's first buffer can be stale.
    stale = 1 if where[0] is None else 0
    need(None not in where[stale:], f"access units not among the camera's (matched: {where})")
    first_seq, first_at = units[stale][0], where[stale]
    order = [(first_at + seq - first_seq) % len(fixture) for seq, _ in units[stale:]]
    need(where[stale:] == order, f"access units out of order: got {where}, by sequence number {order}")
    sps = fixture[0][5:8].hex()
    note = f", {stale} stale first buffer" if stale else ""
    return f"{len(units) - stale} access units passed through byte for byte (camera's pictures {where[stale:]}{note}), SPS profile/constraints/level {sps}"


def check_mics(results, _picture):
    need((results / "mics.wav").exists(), f"record-mics wrote no WAV: {(results / 'mics.err').read_text(errors='replace').strip()[-300:] if (results / 'mics.err').exists() else ''}")
    with wave.open(str(results / "mics.wav")) as w:
        channels, rate, width, frames = w.getnchannels(), w.getframerate(), w.getsampwidth(), w.getnframes()
        pcm = w.readframes(frames)
    need((channels, rate, width) == (1, 48000, 2), f"WAV is {channels} ch {rate} Hz {8 * width}-bit, wanted 1 ch 48000 Hz 16-bit")
    need(frames == 96000, f"{frames} frames for 2 s of 20 ms blocks, wanted exactly 96000")
    t0, t1 = map(float, (results / "mics.time").read_text().split())
    need(t1 - t0 >= 1.8, f"2 s of audio arrived in {t1 - t0:.2f} s: not paced in real time")
    samples = [int.from_bytes(pcm[i : i + 2], "little", signed=True) for i in range(0, len(pcm), 2)]
    tail = samples[-24000:]  # the last half second: the tone plays throughout
    rms = (sum(s * s for s in tail) / len(tail)) ** 0.5
    crossings = sum(1 for a, b in zip(tail, tail[1:]) if (a < 0) != (b < 0))
    need(4000 < rms < 7000, f"tone RMS {rms:.0f} on the mapped channel, wanted ~5657 (a sine of amplitude 8000)")
    need(900 <= crossings <= 1100, f"{crossings} zero crossings in 0.5 s, wanted ~1000 (1 kHz)")
    return f"96000 frames (1 of 2 ch, S16_LE 48 kHz) in {t1 - t0:.2f} s wall time, 1 kHz tone RMS {rms:.0f}"


def check_unplug(results, _picture):
    need((results / "daemon.log").exists(), "no daemon log")
    log = ANSI.sub("", (results / "daemon.log").read_text(errors="replace")).splitlines()
    times = dict(line.split() for line in (results / "unplug.times").read_text().splitlines() if line.strip())
    out = []
    for cam, gone, back in [("loopback", "loopback-removed", "loopback-replugged"), ("vivid", "vivid-unplugged", "vivid-unplugged")]:
        src = f"source=camera-{cam}"
        failed = [i for i, l in enumerate(log) if "capture failed; retrying" in l and src in l]
        resumed = [i for i, l in enumerate(log) if "capture resumed" in l and src in l]
        need(gone in times, f"{cam}: the VM did not get to unplug it")
        # Each reason once (a camera going away may first show no formats,
        # then be gone), however often the daemon retried.
        reasons = [log[i].split("error=", 1)[-1] for i in failed]
        need(failed, f"{cam}: no 'capture failed; retrying' logged")
        need(len(set(reasons)) == len(reasons), f"{cam}: a failure reason logged more than once: {reasons}")
        need(resumed and resumed[0] > failed[0], f"{cam}: no 'capture resumed' after the failure")
        need(f"{cam}-resumed" in times, f"{cam}: resume not seen in the VM")
        took = float(times[f"{cam}-resumed"]) - float(times[back])
        need(took <= 15, f"{cam}: resumed {took:.1f} s after replug, wanted within 15 s (TCG, debug build)")
        opens = sum(1 for l in log if "camera open" in l and f"/dev/video{10 if cam == 'loopback' else 0}" in l)
        out.append(f"{cam} failed ({len(reasons)} reasons logged), resumed {took:.1f} s after replug ({opens} opens)")
    return "; ".join(out)


def main():
    global H264_FIXTURE
    results, picture, console = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    H264_FIXTURE = Path(sys.argv[4])
    vm_failures = [l for l in console.read_text(errors="replace").splitlines() if l.startswith("VMTEST FAIL")]
    passed = failed = 0
    for name in CHECKS:
        try:
            fails = [l for l in vm_failures if l.split()[2] == name]
            need(not fails, "; ".join(l.split(" ", 3)[3] for l in fails))
            detail = globals()[f"check_{name}"](results, picture)
            print(f"vm test: {name} ok: {detail}")
            passed += 1
        except (Failed, OSError, ValueError, KeyError) as e:
            print(f"vm test: {name} FAIL: {e}")
            failed += 1
    others = [l for l in vm_failures if l.split()[2] not in CHECKS]
    for l in others:
        print(f"vm test: {l}")
    print(f"{passed} passed, {failed} failed (tools/vm-test)")
    sys.exit(1 if failed or others else 0)


if __name__ == "__main__":
    main()
