SUMMARY = "The Pi firmware's autoboot.txt partition for A/B slots"
DESCRIPTION = "A small FAT image holding autoboot.txt (files/autoboot.txt), the first partition of the card: which boot partition the firmware boots, and which one a tryboot reboot tries once. confcamd rewrites the file as RAUC's bootloader backend."
SECTION = "bsp"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://LICENSE;md5=2b75dc14e048d1f7ec67a86805bd1f06"

inherit deploy nopackages

INHIBIT_DEFAULT_DEPS = "1"
DEPENDS += "dosfstools-native mtools-native"

# nooelint: oelint.vars.fileextrapaths,oelint.vars.outofcontext - the licence is the repository's, outside the layer
FILESEXTRAPATHS:prepend := "${CONFCAM_REPO}:"
SRC_URI = "file://LICENSE file://autoboot.txt"
S = "${UNPACKDIR}"

# 16 MiB: FAT16, which the firmware reads; the file is a few lines.
AUTOBOOT_SIZE_KIB = "16384"

do_configure[noexec] = "1"

do_compile() {
    rm -f ${B}/autoboot.vfat
    mkfs.vfat -C -n AUTOBOOT ${B}/autoboot.vfat ${AUTOBOOT_SIZE_KIB}
    mcopy -i ${B}/autoboot.vfat ${UNPACKDIR}/autoboot.txt ::autoboot.txt
}

do_deploy() {
    install -m 0644 ${B}/autoboot.vfat ${DEPLOYDIR}/confcam-autoboot.vfat
}

addtask deploy after do_compile before do_build
