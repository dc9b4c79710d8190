# Only root and confcamd may talk to RAUC's service (upstream lets anyone).
FILESEXTRAPATHS:prepend:confcam := "${THISDIR}/files:"
SRC_URI:append:confcam = " file://de.pengutronix.rauc.conf"

do_install:append:confcam() {
    install -m 0644 ${UNPACKDIR}/de.pengutronix.rauc.conf ${D}${datadir}/dbus-1/system.d/de.pengutronix.rauc.conf
}
