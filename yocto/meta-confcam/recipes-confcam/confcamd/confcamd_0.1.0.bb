SUMMARY = "confcamd, the confcam conference camera daemon"
DESCRIPTION = "Captures the room, frames whoever speaks, checks in known people and hosts the meeting phones join."
SECTION = "multimedia"
LIC_FILES_CHKSUM = "file://LICENSE;md5=2b75dc14e048d1f7ec67a86805bd1f06"
# confcamd's own MIT and the licences of the crates it links, with each
# crate's text: written by tools/update-crates-inc from Cargo.lock.
require ${BPN}-licenses.inc

# alsa-lib (alsa crate), libjpeg-turbo (turbojpeg crate) and OpenSSL
# (WebRTC's DTLS and SRTP, openssl-sys) come from oe-core, libopus (opus
# crate) from meta-oe, all found by pkg-config; SQLite, ring and
# OpenH264 are built from their crates' bundled C/C++ sources. The v4l crate
# makes its V4L2 bindings with bindgen at build time, which loads libclang
# (clang-native, in oe-core since 2025) and reads the kernel headers from
# the target sysroot.
DEPENDS += "alsa-lib clang-native libjpeg-turbo libopus openssl"

# The source is the confcam checkout this layer sits in (CONFCAM_REPO, from
# conf/layer.conf), used in place: what a developer tests is what the image
# gets, with no commit, tarball or git server in between. externalsrc
# takes the main source out of do_fetch but keeps the crate:// entries, so
# do_fetch downloads every crate Cargo.lock names (sha256-checked) and
# do_compile runs `cargo build --frozen` on that copy: no network after
# do_fetch. externalsrc also re-parses this recipe on every run, so a
# changed systemd/confcam.sysusers is always read. The version in the file
# name is Cargo.toml's (tools/check-layer checks it).
inherit externalsrc cargo cargo-update-recipe-crates pkgconfig systemd useradd

EXTERNALSRC = "${CONFCAM_REPO}"
# No oe-workdir/oe-logs symlinks in the developer's checkout.
EXTERNALSRC_SYMLINKS = ""

# Written by tools/update-crates-inc, in the format of
# `bitbake -c update_crates confcamd`.
require ${BPN}-crates.inc

export LIBCLANG_PATH = "${STAGING_LIBDIR_NATIVE}"
export BINDGEN_EXTRA_CLANG_ARGS = "--sysroot=${RECIPE_SYSROOT}"
# The image's libjpeg-turbo instead of a second copy built by cmake inside
# the crate: one library to keep patched.
export TURBOJPEG_SOURCE = "pkg-config"

# Default features only: the load generator (loadgen) and the model
# converter (models) are developer tools, not firmware.
CARGO_BUILD_FLAGS:append = " --bin confcamd"

do_install:append() {
    # The unit and the user, as the repository has them.
    install -D -m 0644 ${S}/systemd/confcamd.service ${D}${systemd_system_unitdir}/confcamd.service
    # Updates: the restart into a new slot confcamd asks for, and leaving a
    # slot it never kept (they call RAUC's backend, rauc-conf.bbappend).
    for unit in confcam-tryboot.path confcam-tryboot.service confcam-trial.timer confcam-trial.service; do
        install -m 0644 ${S}/systemd/$unit ${D}${systemd_system_unitdir}/$unit
    done
    install -D -m 0644 ${S}/systemd/confcam.sysusers ${D}${nonarch_libdir}/sysusers.d/confcam.conf
    # Mount point of the data partition (StateDirectory=confcam): a
    # read-only rootfs cannot make it at boot.
    install -d -m 0755 ${D}${localstatedir}/lib/confcam
}

SYSTEMD_SERVICE:${PN} = "confcamd.service confcam-tryboot.path confcam-trial.timer"
SYSTEMD_AUTO_ENABLE = "enable"

# /etc is read-only on the image: the user and groups are made at build
# time, from the sysusers file (lib/confcam/sysusers.py reads it).
CONFCAM_SYSUSERS = "${CONFCAM_REPO}/systemd/confcam.sysusers"
USERADD_PACKAGES = "${PN}"
GROUPADD_PARAM:${PN} = "${@confcam.sysusers.groupadd_param(d.getVar('CONFCAM_SYSUSERS'))}"
USERADD_PARAM:${PN} = "${@confcam.sysusers.useradd_param(d.getVar('CONFCAM_SYSUSERS'), d.getVar('base_sbindir') + '/nologin')}"

FILES:${PN} += "${nonarch_libdir}/sysusers.d/confcam.conf"
