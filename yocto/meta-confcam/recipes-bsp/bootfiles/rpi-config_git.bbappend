# The HAT's lines of config.txt (board/CONFCAM_BOARD/config.txt: the I2S
# codec overlay), added to the config.txt meta-raspberrypi puts on the boot
# partition. USB arrays have no such file and change nothing here. Only in
# the confcam distro: other builds that include the layer are not touched.
FILESEXTRAPATHS:prepend:confcam := "${CONFCAM_REPO}/board:"
SRC_URI:append:confcam = " ${@'file://${CONFCAM_BOARD}/config.txt' if os.path.isfile(d.expand('${CONFCAM_REPO}/board/${CONFCAM_BOARD}/config.txt')) else ''}"

do_deploy:append:confcam() {
    board_config="${UNPACKDIR}/${CONFCAM_BOARD}/config.txt"
    if [ -f "$board_config" ]; then
        echo "# confcam: ${CONFCAM_BOARD}" >> ${DEPLOYDIR}/${BOOTFILES_DIR_NAME}/config.txt
        grep -v -e '^#' -e '^[[:space:]]*$' "$board_config" >> ${DEPLOYDIR}/${BOOTFILES_DIR_NAME}/config.txt
    fi
}
