#!/usr/bin/env python3
"""The VM test's camera picture (tools/vm-test), deterministic.

    picture.py ppm OUT.ppm            640x480 gradients, blocks and rings
    picture.py uvc IN.jpg OUT.jpg     the JPEG as many UVC cameras send it:
                                      no DHT segment (the decoder must supply
                                      the standard tables of JPEG Annex K.3)
"""
import math
import sys

W, H = 640, 480


def ppm(path):
    rows = bytearray()
    for y in range(H):
        for x in range(W):
            # Background: crossed gradients.
            r, g, b = x * 255 // (W - 1), y * 255 // (H - 1), (x + y) * 255 // (W + H - 2)
            # A chequer of 40-pixel blocks in the top half, eight grey levels.
            if y < 200 and 40 <= x < 600 and (x // 40 + y // 40) % 2 == 0:
                r = g = b = (x // 80) * 36
            # Concentric rings (fine detail) at the bottom right.
            d = math.hypot(x - 480, y - 340)
            if d < 110:
                v = 255 if int(d / 6) % 2 == 0 else 0
                r, g, b = v, v // 2, 255 - v
            # Bars of saturated colours at the bottom left.
            if 250 <= y < 430 and 40 <= x < 320:
                r, g, b = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255), (255, 255, 255)][(x - 40) // 40]
            rows += bytes((r, g, b))
    with open(path, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (W, H) + bytes(rows))


def without_dht(src, dst):
    jpeg = open(src, "rb").read()
    assert jpeg[:2] == b"\xff\xd8", "not a JPEG"
    out, at = bytearray(jpeg[:2]), 2
    while True:
        marker, length = jpeg[at + 1], int.from_bytes(jpeg[at + 2 : at + 4], "big")
        if marker == 0xDA:  # start of scan: the rest is entropy-coded data
            out += jpeg[at:]
            break
        if marker != 0xC4:
            out += jpeg[at : at + 2 + length]
        at += 2 + length
    assert len(out) < len(jpeg), "the JPEG had no DHT segment"
    open(dst, "wb").write(bytes(out))


if __name__ == "__main__":
    if sys.argv[1:2] == ["ppm"] and len(sys.argv) == 3:
        ppm(sys.argv[2])
    elif sys.argv[1:2] == ["uvc"] and len(sys.argv) == 4:
        without_dht(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
