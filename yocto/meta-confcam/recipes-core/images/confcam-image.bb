SUMMARY = "confcam conference camera box"
DESCRIPTION = "Read-only systemd image that starts confcamd at boot, for an SD card with A/B root slots."
LICENSE = "MIT"

inherit core-image confcam

# What the box runs and nothing more: no package manager, no login over the
# network, no avahi (confcamd answers mDNS itself). All kernel modules, so
# whatever UVC camera or USB microphone the room has works.
IMAGE_INSTALL = "\
    packagegroup-core-boot \
    confcamd \
    confcam-models \
    confcam-board \
    kernel-modules \
    ${@'confcam-kiosk' if bb.utils.to_boolean(d.getVar('CONFCAM_KIOSK')) else ''} \
    ${CORE_IMAGE_EXTRA_INSTALL} \
"

# / is mounted read-only; what changes lives on the data partition
# (/var/lib/confcam) or in tmpfs (/var/volatile, /run).
IMAGE_FEATURES += "read-only-rootfs"

# CONFCAM_KIOSK = "1" (conf/distro/include/confcam.inc): a screen on the
# box shows https://localhost/display, Chromium under weston's kiosk shell.
# The weston feature also makes graphical.target the default.
IMAGE_FEATURES += "${@'weston' if bb.utils.to_boolean(d.getVar('CONFCAM_KIOSK')) else ''}"

# The SD card: files/wic/confcam-sdcard.wks. The .bmap lets bmaptool skip
# the empty blocks when it writes the card.
WKS_FILE = "confcam-sdcard.wks"
IMAGE_FSTYPES = "wic.bz2 wic.bmap"
