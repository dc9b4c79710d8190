SUMMARY = "confcam conference camera box"
DESCRIPTION = "Read-only systemd image that starts confcamd at boot, for an SD card with A/B root slots."
LICENSE = "MIT"

inherit core-image confcam

# What the box runs and nothing more: no package manager, no login over the
# network, no avahi (confcamd answers mDNS itself). All kernel modules, so
# whatever UVC camera or USB microphone the room has works. The machine's
# extras (packagegroup-core-boot leaves them out): on a Pi, udev-rules-rpi
# gives /dev/gpiomem*, /dev/gpiochip* and /dev/spidev* to the gpio and spi
# groups confcamd's unit joins, and the Wi-Fi and Bluetooth firmware. A
# ReSpeaker HAT's codec drivers when the board's config.txt loads them.
IMAGE_INSTALL = "\
    packagegroup-core-boot \
    ${MACHINE_EXTRA_RRECOMMENDS} \
    confcamd \
    rauc \
    confcam-models \
    confcam-board \
    kernel-modules \
    ${@'seeed-voicecard' if confcam.board.voicecard(d) else ''} \
    ${@'confcam-kiosk' if bb.utils.to_boolean(d.getVar('CONFCAM_KIOSK')) else ''} \
    ${CORE_IMAGE_EXTRA_INSTALL} \
"

# The HAT's overlays go where config.txt's dtoverlay= lines look.
IMAGE_BOOT_FILES:append = " ${@' '.join('seeed-voicecard/%s.dtbo;overlays/%s.dtbo' % (o, o) for o in confcam.board.voicecard(d))}"
# The autoboot partition's image (files/wic/confcam-sdcard.wks: p1).
# nooelint: oelint.vars.mispell.unknown - do_image_wic is image_types_wic's task, which oelint-adv does not know
do_image_wic[depends] += "confcam-autoboot:do_deploy ${@'seeed-voicecard:do_deploy' if confcam.board.voicecard(d) else ''}"
# Updates (RAUC, src/update/): confcamd marks a slot good itself, once
# healthy there; meta-rauc's mark-good-at-boot service would keep a slot
# whose confcamd never comes up.
BAD_RECOMMENDATIONS += "rauc-mark-good"

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
# The Pi's firmware boots from the FAT partition (IMAGE_BOOT_FILES): wic's
# EFI loaders (grub-efi, systemd-boot), which an aarch64 build otherwise
# makes, are never used.
WKS_FILE_DEPENDS = "${WKS_FILE_DEPENDS_DEFAULT}"
IMAGE_FSTYPES = "wic.bz2 wic.bmap"
