"""16-bit PCM WAV files as (channels, samples) int16 arrays: the AEC
fixtures' and processed outputs' one format (tools/aec/README.md)."""

import wave
from pathlib import Path

import numpy as np


def read(path):
    """(M, N) int16 and the rate."""
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2, path
        m, fs = w.getnchannels(), w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return x.reshape(-1, m).T, fs


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
