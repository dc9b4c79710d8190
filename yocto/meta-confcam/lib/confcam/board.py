# The board's boot-time needs, read from board/$CONFCAM_BOARD/config.txt
# (the lines meta-confcam adds to the Pi's config.txt): the image builds
# what its dtoverlay= lines name and nothing when the board has no file.
import os


def overlays(d):
    """The device-tree overlays the board's config.txt loads."""
    path = d.expand("${CONFCAM_REPO}/board/${CONFCAM_BOARD}/config.txt")
    if not os.path.isfile(path):
        return []
    found = []
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line.startswith("dtoverlay="):
                found.append(line.split("=", 1)[1].split(",", 1)[0])
    return found


def voicecard(d):
    """The seeed-voicecard overlays the board loads (the ReSpeaker HATs'
    AC108 codec): these come from the seeed-voicecard recipe, not the kernel."""
    return [o for o in overlays(d) if o.startswith("seeed-") and o.endswith("-voicecard")]
