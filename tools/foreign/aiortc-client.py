"""aiortc (PyPI, pinned in requirements.txt), a WebRTC stack nobody here
wrote, as a phone, a WHIP publisher or a WHEP player against the box.
Run through tools/foreign/aiortc, which keeps its venv.

  phone URL CODE SECONDS   join like web/join/join.js and talk: syllables at
                           a steady level with pauses of digital silence, as
                           a clean source sends them; prints `active speaker
                           after N s` once the box names this phone
  whip URL CODE SECONDS    publish a test picture (H.264) and the syllables
  whep URL CODE SECONDS    pull the room; counts the frames that decode

Exits non-zero when the session fails, or nothing flowed, or (phone) the
phone never became the active speaker.
"""

import asyncio
import fractions
import json
import math
import ssl
import struct
import sys
import time
import urllib.error
import urllib.request
from collections import Counter

from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, VideoFrame

RATE = 48000
FRAME = 960  # 20 ms
TLS = ssl._create_unverified_context()  # the box's own certificate


def peer_connection():
    # No STUN server: aiortc would ask Google's by default, and the box is
    # on this machine (the tests send nothing elsewhere).
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


class Syllables(MediaStreamTrack):
    """160 ms syllables of a 220 Hz tone at -23 dBFS, 40 ms gaps, and a
    400 ms pause every 1.4 s; every gap exact digital silence."""

    kind = "audio"

    def __init__(self):
        super().__init__()
        self.sent = 0
        self.start = None

    async def recv(self):
        if self.start is None:
            self.start = time.monotonic()
        await asyncio.sleep(max(0.0, self.start + self.sent * 0.02 - time.monotonic()))
        ms = (self.sent * 20) % 1400
        on = ms < 1000 and ms % 200 < 160
        amplitude = 2300 if on else 0
        offset = self.sent * FRAME
        samples = [int(amplitude * math.sin(2 * math.pi * 220 * (offset + i) / RATE)) for i in range(FRAME)]
        frame = AudioFrame(format="s16", layout="mono", samples=FRAME)
        frame.planes[0].update(struct.pack(f"<{FRAME}h", *samples))
        frame.sample_rate = RATE
        frame.pts = offset
        frame.time_base = fractions.Fraction(1, RATE)
        self.sent += 1
        return frame


class Picture(VideoStreamTrack):
    """A moving gradient, 320×180, so the encoder has something to code."""

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        shade = pts // 3000 % 200
        frame = VideoFrame(width=320, height=180, format="yuv420p")
        for i, plane in enumerate(frame.planes):
            plane.update(bytes([shade if i == 0 else 128]) * plane.buffer_size)
        frame.pts, frame.time_base = pts, time_base
        return frame


def post(url, body, content_type, code=None):
    headers = {"Content-Type": content_type}
    if code:
        headers["Authorization"] = f"Bearer {code}"
    request = urllib.request.Request(url, data=body.encode(), method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, context=TLS, timeout=10) as response:
            return response.read().decode()
    except urllib.error.HTTPError as e:
        sys.exit(f"aiortc-client: {url} answered {e.code}: {e.read().decode(errors='replace')}")


async def offer_answer(pc, send):
    await pc.setLocalDescription(await pc.createOffer())
    answer = await asyncio.get_running_loop().run_in_executor(None, send, pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))


async def phone(url, code, seconds):
    pc = peer_connection()
    channel = pc.createDataChannel("room")
    started, me, active, heard = time.monotonic(), {}, [], Counter()

    async def on_message(message):
        heard[message["type"]] += 1
        if message["type"] == "offer":  # the box adds others' media
            await pc.setRemoteDescription(RTCSessionDescription(message["sdp"], "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            channel.send(json.dumps({"type": "answer", "sdp": pc.localDescription.sdp}))
        # Told when it changes, or in the welcome if it already had (the
        # phone may take the floor before its data channel opens).
        elif message["type"] in ("active_speaker", "welcome") and not active:
            speaker = message.get("id") if message["type"] == "active_speaker" else message.get("active_speaker")
            if speaker is not None and speaker == me.get("id"):
                active.append(time.monotonic() - started)

    channel.on("message", lambda data: asyncio.ensure_future(on_message(json.loads(data))))
    audio = Syllables()
    pc.addTransceiver(audio, direction="sendonly")

    def join(sdp):
        body = json.loads(post(f"{url}/api/join", json.dumps({"code": code, "name": "aiortc", "sdp": sdp}), "application/json"))
        me["id"] = body["participant"]
        return body["sdp"]

    await offer_answer(pc, join)
    while time.monotonic() - started < seconds and not active:
        await asyncio.sleep(0.1)
    # Gone as aiortc apps go: closing aborts the data channel, no goodbye.
    # What it saw, for when it never took the floor.
    state = f"connection {pc.connectionState}, ICE {pc.iceConnectionState}, data channel {channel.readyState}"
    await pc.close()
    if not active:
        sys.exit(
            f"aiortc-client: phone {me['id']} never became the active speaker in {seconds} s "
            f"({state}; sent {audio.sent} audio frames; heard {dict(heard) or 'nothing'})"
        )
    print(f"active speaker after {active[0]:.1f} s (participant {me['id']})")


async def whip(url, code, seconds):
    pc = peer_connection()
    audio, video = Syllables(), Picture()
    pc.addTransceiver(audio, direction="sendonly")
    # The box takes H.264 only; aiortc would offer VP8 first.
    sender = pc.addTransceiver(video, direction="sendonly")
    from aiortc.rtcrtpsender import RTCRtpSender

    sender.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/H264"])
    await offer_answer(pc, lambda sdp: post(f"{url}/whip", sdp, "application/sdp", code))
    await asyncio.sleep(seconds)
    state = pc.connectionState
    await pc.close()
    if state != "connected" or audio.sent == 0:
        sys.exit(f"aiortc-client: WHIP session {state}")
    print(f"sent {audio.sent} audio frames, connection {state}")


async def whep(url, code, seconds):
    pc = peer_connection()
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    counted = {"video": 0, "audio": 0}

    @pc.on("track")
    def on_track(track):
        async def drain():
            while True:
                try:
                    await track.recv()
                except MediaStreamError:  # the session closed
                    return
                counted[track.kind] += 1

        asyncio.ensure_future(drain())

    await offer_answer(pc, lambda sdp: post(f"{url}/whep", sdp, "application/sdp", code))
    await asyncio.sleep(seconds)
    await pc.close()
    print(f"decoded {counted['video']} video and {counted['audio']} audio frames")
    if not (counted["video"] and counted["audio"]):
        sys.exit(1)


def main():
    modes = {"phone": phone, "whip": whip, "whep": whep}
    if len(sys.argv) != 5 or sys.argv[1] not in modes:
        sys.exit(__doc__)
    mode, url, code, seconds = sys.argv[1], sys.argv[2].rstrip("/"), sys.argv[3], float(sys.argv[4])
    asyncio.run(modes[mode](url, code, seconds))


if __name__ == "__main__":
    main()
