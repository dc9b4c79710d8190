# The box's RAUC configuration: files/system.conf.in (shared with the e2e
# update test) for the card's slots, the bootloader backend (confcamd keeps
# autoboot.txt), and the keyring: the CA certificate of the update signing
# key, which comes from outside this repository (CONFCAM_RAUC_KEYRING,
# conf/distro/include/confcam.inc). Only in the confcam distro.
FILESEXTRAPATHS:prepend:confcam := "${THISDIR}/files:"
SRC_URI:confcam = "file://system.conf.in file://rauc-backend"

do_install:confcam() {
    if [ ! -f "${CONFCAM_RAUC_KEYRING}" ]; then
        bbfatal "No update keyring at ${CONFCAM_RAUC_KEYRING}: set CONFCAM_RAUC_KEYRING to your CA certificate (tools/rauc-keys makes development keys)"
    fi
    install -d ${D}${nonarch_libdir}/rauc ${D}${libexecdir}/confcam ${D}/boot/autoboot
    sed -e 's#@COMPATIBLE@#${CONFCAM_RAUC_COMPATIBLE}#' \
        -e 's#@FORMATS@#verity#' \
        -e 's#@DATA_DIR@#${localstatedir}/lib/confcam/rauc#' \
        -e 's#@BACKEND@#${libexecdir}/confcam/rauc-backend#' \
        -e 's#@KEYRING@#${nonarch_libdir}/rauc/keyring.pem#' \
        -e 's#@BOOT_A@#/dev/mmcblk0p2#' -e 's#@BOOT_B@#/dev/mmcblk0p3#' \
        -e 's#@ROOT_A@#/dev/mmcblk0p5#' -e 's#@ROOT_B@#/dev/mmcblk0p6#' \
        ${UNPACKDIR}/system.conf.in > ${D}${nonarch_libdir}/rauc/system.conf
    install -m 0644 ${CONFCAM_RAUC_KEYRING} ${D}${nonarch_libdir}/rauc/keyring.pem
    install -m 0755 ${UNPACKDIR}/rauc-backend ${D}${libexecdir}/confcam/rauc-backend
}
do_install[file-checksums] += "${@'${CONFCAM_RAUC_KEYRING}:True' if d.getVar('CONFCAM_RAUC_KEYRING') else ''}"

FILES:${PN}:append:confcam = " ${libexecdir}/confcam /boot/autoboot"
RDEPENDS:${PN}:append:confcam = " confcamd"
