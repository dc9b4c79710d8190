# The HAT's lines of config.txt (board/CONFCAM_BOARD/config.txt: the I2S
# codec overlay), added to the config.txt meta-raspberrypi puts on the boot
# partition. USB arrays have no such file and change nothing here. Only in
# the confcam distro: other builds that include the layer are not touched.
FILESEXTRAPATHS:prepend:confcam := "${CONFCAM_REPO}/board:"
SRC_URI:append:confcam = " ${@'file://${CONFCAM_BOARD}/config.txt' if os.path.isfile(d.expand('${CONFCAM_REPO}/board/${CONFCAM_BOARD}/config.txt')) else ''}"

do_deploy:append:confcam() {
    # The slot's command line (its root, rauc.slot=), by the boot partition
    # this config.txt was read from (rpi-cmdline.bbappend).
    printf '# confcam: A/B slots\n[boot_partition=2]\ncmdline=cmdline-a.txt\n[boot_partition=3]\ncmdline=cmdline-b.txt\n[all]\n' \
        >> ${DEPLOYDIR}/${BOOTFILES_DIR_NAME}/config.txt
    board_config="${UNPACKDIR}/${CONFCAM_BOARD}/config.txt"
    if [ -f "$board_config" ]; then
        echo "# confcam: ${CONFCAM_BOARD}" >> ${DEPLOYDIR}/${BOOTFILES_DIR_NAME}/config.txt
        grep -v -e '^#' -e '^[[:space:]]*$' "$board_config" >> ${DEPLOYDIR}/${BOOTFILES_DIR_NAME}/config.txt
    fi
}
