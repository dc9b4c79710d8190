SUMMARY = "confcam room display on the box's own screen"
DESCRIPTION = "Chromium in weston's kiosk shell showing https://localhost/display (CONFCAM_KIOSK)."
SECTION = "graphics"
LICENSE = "MIT"
# nooelint: oelint.var.licenseremotefile - a confcam file under the project's MIT license, no source tree
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/MIT;md5=0835ade698e0bcf8506ecda2f7b4f302"

# The display page is a WebRTC receiver: oe-core's WebKitGTK is built
# without WebRTC, so the browser is Chromium from meta-chromium (the only
# reason this recipe sits under dynamic-layers/chromium-browser-layer).
SRC_URI = "file://confcam-kiosk"
S = "${UNPACKDIR}"

inherit allarch features_check
REQUIRED_DISTRO_FEATURES = "wayland"

do_configure[noexec] = "1"
do_compile[noexec] = "1"

do_install() {
    install -D -m 0755 ${S}/confcam-kiosk ${D}${bindir}/confcam-kiosk
}

# weston-init's weston.ini starts confcam-kiosk (weston-init.bbappend).
RDEPENDS:${PN} = "chromium-ozone-wayland weston weston-init"
