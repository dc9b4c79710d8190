# confcam kiosk: weston runs the kiosk shell (one full-screen window, no
# desktop) and starts the room display. With watch=true weston exits when
# the browser does, and systemd restarts weston and with it the browser.
# Only in the confcam distro with CONFCAM_KIOSK = "1".
do_install:append:confcam() {
    if ${@'true' if bb.utils.to_boolean(d.getVar('CONFCAM_KIOSK')) else 'false'}; then
        sed -i -e '/^\[core\]/a shell=kiosk-shell.so' ${D}${sysconfdir}/xdg/weston/weston.ini
        printf '\n[autolaunch]\npath=%s\nwatch=true\n' "${bindir}/confcam-kiosk" >> ${D}${sysconfdir}/xdg/weston/weston.ini
    fi
}
