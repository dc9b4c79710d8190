SUMMARY = "confcam microphone-array files: ALSA name, udev rules, config"
DESCRIPTION = "board/CONFCAM_BOARD from the confcam repository, and /etc/confcam/confcam.toml naming it."
SECTION = "multimedia"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://LICENSE;md5=2b75dc14e048d1f7ec67a86805bd1f06"

inherit allarch confcam

# CONFCAM_BOARD (conf/distro/include/confcam.inc) picks a folder of
# board/. Its files stay there, their only copy; a name that is no folder
# stops bitbake at parse time, naming the paths it searched. A HAT's
# config.txt lines go to the boot partition through
# recipes-bsp/bootfiles/rpi-config_git.bbappend.
# nooelint: oelint.vars.fileextrapaths,oelint.vars.outofcontext - the board files live in the repository's board/, outside the layer
FILESEXTRAPATHS:prepend := "${CONFCAM_REPO}/board:${CONFCAM_REPO}:"
SRC_URI = "\
    file://LICENSE \
    file://${CONFCAM_BOARD} \
    file://confcam.toml.in \
"
S = "${UNPACKDIR}"

do_configure[noexec] = "1"
do_compile[noexec] = "1"

do_install() {
    b=${S}/${CONFCAM_BOARD}
    install -D -m 0644 $b/asound.conf ${D}${sysconfdir}/asound.conf
    if [ -f $b/udev.rules ]; then
        install -D -m 0644 $b/udev.rules ${D}${nonarch_base_libdir}/udev/rules.d/70-confcam-${CONFCAM_BOARD}.rules
    fi
    # confcamd has every profile built in; this copy says what the image
    # was built for.
    install -D -m 0644 $b/profile.toml ${D}${datadir}/confcam/board/profile.toml
    # 0755 as the unit's ConfigurationDirectoryMode=: systemd cannot chmod
    # it on a read-only /etc.
    install -d -m 0755 ${D}${sysconfdir}/confcam
    sed -e 's/@BOARD@/${CONFCAM_BOARD}/' ${S}/confcam.toml.in > ${D}${sysconfdir}/confcam/confcam.toml
    chmod 0644 ${D}${sysconfdir}/confcam/confcam.toml
}

FILES:${PN} += "${datadir}/confcam/board"
# oe-core's alsa-state ships /etc/asound.conf too.
RCONFLICTS:${PN} = "alsa-state"
