# Each slot's kernel command line. Both boot partitions hold the same
# files; config.txt picks cmdline-a.txt or cmdline-b.txt by the partition it
# was read from ([boot_partition=N], rpi-config_git.bbappend), so one boot
# image serves either slot and an update writes it unchanged.
do_deploy:append:confcam() {
    for slot in "a 5 A" "b 6 B"; do
        set -- $slot
        sed -e "s#root=[^ ]*#root=/dev/mmcblk0p$2#" -e "s#\$# rauc.slot=$3#" \
            ${DEPLOYDIR}/${BOOTFILES_DIR_NAME}/cmdline.txt > ${DEPLOYDIR}/${BOOTFILES_DIR_NAME}/cmdline-$1.txt
    done
}
