"""16-bit PCM WAV files as (channels, samples) int16 arrays: the AEC
fixtures' and processed outputs' one format (tools/aec/README.md)."""

import wave
from pathlib import Path

import numpy as np


def read(path):
    """(M, N) int16 and the rate. Takes WAVE_FORMAT_EXTENSIBLE too (what
    Rust's hound writes for more than two channels), which `wave` refuses."""
    fs = 0
    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", path
    at, channels = 12, 0
    while at + 8 <= len(data):
        kind, size = data[at : at + 4], int.from_bytes(data[at + 4 : at + 8], "little")
        body = data[at + 8 : at + 8 + size]
        if kind == b"fmt ":
            channels = int.from_bytes(body[2:4], "little")
            fs = int.from_bytes(body[4:8], "little")
            assert int.from_bytes(body[14:16], "little") == 16, (path, "not 16-bit")
        elif kind == b"data":
            x = np.frombuffer(body, dtype="<i2")
            return x.reshape(-1, channels).T, fs
        at += 8 + size + (size & 1)
    raise ValueError(f"{path}: no data chunk")


def write(path, x, fs):
    """Writes (M, N) int16 in slices: an hour's interleaving stays small."""
    assert x.dtype == np.int16, x.dtype
    with wave.open(str(path), "wb") as w:
        w.setnchannels(x.shape[0])
        w.setsampwidth(2)
        w.setframerate(fs)
        step = 1 << 20
        for at in range(0, x.shape[1], step):
            w.writeframes(np.ascontiguousarray(x[:, at : at + step].T).astype("<i2").tobytes())


def component(fixdir, name, part, shape):
    """A fixture's `part` (echo, near or noise) as (M, N) int16: a fixture
    leaves out the file of a part that is silent throughout."""
    path = Path(fixdir) / f"{name}.{part}.wav"
    if not path.exists():
        return np.zeros(shape, dtype=np.int16)
    x, _ = read(path)
    assert x.shape == shape, (path, x.shape, shape)
    return x


def to_int16(x):
    """Floats in [-1, 1) to int16 (x·32768, rounded); the caller has kept
    them from clipping."""
    q = np.round(np.asarray(x) * 32768.0)
    assert q.size == 0 or (q.min() >= -32768 and q.max() <= 32767), "clipped"
    return q.astype(np.int16)
