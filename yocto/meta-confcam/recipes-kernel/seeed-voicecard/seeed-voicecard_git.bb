SUMMARY = "The ReSpeaker 4- and 6-mic HATs' codec drivers and overlays"
DESCRIPTION = "seeed-voicecard: the X-Powers AC108/AC101 codec and Seeed machine drivers as kernel modules, and the seeed-4mic-voicecard and seeed-8mic-voicecard device-tree overlays config.txt loads, from the maintained fork of Seeed's driver."
HOMEPAGE = "https://github.com/HinTak/seeed-voicecard"
SECTION = "kernel"
# The drivers: ac108.c and seeed-voicecard.c GPL-2.0-only, ac101.c
# GPL-2.0-or-later; the repository's LICENSE file is the GPLv3.
LICENSE = "GPL-2.0-only & GPL-2.0-or-later & GPL-3.0-only"
LIC_FILES_CHKSUM = "\
    file://LICENSE;md5=84dcc94da3adb52b53ae4fa38fe49e5d \
    file://ac108.c;beginline=7;endline=9;md5=5f5464f9b3e981ca574e65b00e438561 \
    file://ac101.c;beginline=17;endline=20;md5=9e72e9b0618520c46589d976c9ca1de6 \
    file://seeed-voicecard.c;beginline=12;endline=14;md5=5f5464f9b3e981ca574e65b00e438561 \
"

# HinTak's fork is the one kept building on new kernels (Seeed's own
# stopped at 5.10). This commit is its v6.5 branch, which others run on
# Raspberry Pi OS's 6.6 kernel. Its newest branch (v6.14) builds on
# neither 6.12 nor 6.15+ without patches still under review (its pull
# request #48, tested on 6.18), and wrynose's default kernel is 6.18: the
# confcam distro builds the 6.6 kernel for a board that needs these
# drivers (conf/distro/confcam.conf). A commit that builds on 6.18 lifts
# that.
DEPENDS += "dtc-native"

PV = "0.3+git"
SRC_URI = "git://github.com/HinTak/seeed-voicecard.git;protocol=https;branch=v6.5"
SRCREV = "c693d203d997f61c41686ece2f5eb59e1fc1c75d"

inherit module deploy

# The repository's Makefile builds against the running kernel (uname -r)
# unless kbuild calls it: call kbuild on the image's kernel instead. Only
# the AC108/AC101 codec and the machine driver: its WM8960 driver (the
# 2-mic HAT's) is the kernel's own snd-soc-wm8960 too, and two recipes
# must not make one package.
CONFCAM_VOICECARD_MODULES = "obj-m='snd-soc-ac108.o snd-soc-seeed-voicecard.o'"
MAKE_TARGETS = "-C ${STAGING_KERNEL_DIR} M=${S} ${CONFCAM_VOICECARD_MODULES} modules"
MODULES_INSTALL_TARGET = "-C ${STAGING_KERNEL_DIR} M=${S} ${CONFCAM_VOICECARD_MODULES} modules_install"

# The overlays the HATs' config.txt lines load, compiled from their source
# rather than the prebuilt .dtbo files beside it.
CONFCAM_VOICECARD_OVERLAYS = "seeed-4mic-voicecard seeed-8mic-voicecard"

do_compile:append() {
    for overlay in ${CONFCAM_VOICECARD_OVERLAYS}; do
        dtc -@ -I dts -O dtb -o ${B}/$overlay.dtbo ${S}/$overlay-overlay.dts
    done
}

do_deploy() {
    install -d ${DEPLOYDIR}/${BPN}
    for overlay in ${CONFCAM_VOICECARD_OVERLAYS}; do
        install -m 0644 ${B}/$overlay.dtbo ${DEPLOYDIR}/${BPN}/
    done
}
addtask deploy after do_compile before do_build

# Loaded at boot, not left to the overlay's modalias: the card must be
# there before confcamd opens it.
KERNEL_MODULE_AUTOLOAD += "snd-soc-ac108 snd-soc-seeed-voicecard"

# The overlays name the Pi 4's I2S and I2C (the image is for the Pi 4 and
# 5); the Pi 5 ones came to the fork after this commit, for kernels it
# does not build on yet.
COMPATIBLE_MACHINE = "^raspberrypi4"
