SUMMARY = "Face models of confcamd: YuNet detector and SFace embedder"
DESCRIPTION = "The fp32 TFLite files confcamd runs for check-in, as tools/fetch-models makes them."
SECTION = "multimedia"
# YuNet: MIT (libfacedetection) / Apache-2.0 (OpenCV Zoo); SFace:
# Apache-2.0. The files carry no license text of their own.
LICENSE = "MIT & Apache-2.0"
# nooelint: oelint.var.licenseremotefile - no source tree to point at: the common texts are the licenses' own
LIC_FILES_CHKSUM = "\
    file://${COMMON_LICENSE_DIR}/MIT;md5=0835ade698e0bcf8506ecda2f7b4f302 \
    file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10 \
"

inherit allarch confcam

# Making the models takes pip and a cargo build on the build host, so it is
# no bitbake task: run tools/fetch-models in the repository first (it
# writes target/models; CONFCAM_MODELS_DIR says where). The files are not in SRC_URI, where a missing file
# stops bitbake from parsing anything; do_install checks them instead,
# against the sha256 that tools/fetch-models pins (the only copy of the
# pins). The task hash follows that script, so new pins reinstall.
CONFCAM_MODELS_PINS = "${CONFCAM_REPO}/tools/fetch-models"
CONFCAM_MODELS = "face_detector.tflite face_embedder.tflite"

do_configure[noexec] = "1"
do_compile[noexec] = "1"

do_install() {
    install -d ${D}${datadir}/confcam/models
    for f in ${CONFCAM_MODELS}; do
        src="${CONFCAM_MODELS_DIR}/$f"
        [ -f "$src" ] || bbfatal "$src is missing: run tools/fetch-models in ${CONFCAM_REPO} first (or set CONFCAM_MODELS_DIR)"
        want=$(sed -n "s/^ *\[$f\]=\([0-9a-f]\{64\}\)\$/\1/p" "${CONFCAM_MODELS_PINS}")
        [ -n "$want" ] || bbfatal "${CONFCAM_MODELS_PINS} pins no sha256 for $f"
        got=$(sha256sum "$src" | cut -d' ' -f1)
        [ "$got" = "$want" ] || bbfatal "$src has sha256 $got, tools/fetch-models pins $want: run tools/fetch-models again"
        install -m 0644 "$src" ${D}${datadir}/confcam/models/$f
    done
}
do_install[file-checksums] += "${CONFCAM_MODELS_PINS}:True"

FILES:${PN} += "${datadir}/confcam/models"
