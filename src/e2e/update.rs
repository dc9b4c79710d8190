//! Updates through the admin API with the real RAUC (Debian's 1.8, from
//! `tools/deps update`): its service on a D-Bus of the test's own, the
//! image's system.conf with the slots as files, confcamd's bootloader
//! backend on an autoboot.txt, bundles from tools/bundle signed with keys
//! from tools/rauc-keys. Root is needed (RAUC mounts the bundle's squashfs
//! through a loop device); without it the test says so loudly and passes.
//! Booting the new slot, rollback and power loss are the VM's to show.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use confcam::update::Slot;
use serde_json::Value;

use crate::common::{admin_client, client, small_config, start_with};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// A process that ends with the test.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// RAUC's service on its own bus, over slots that are files in `dir`.
struct Rig {
    dir: tempfile::TempDir,
    bus: String,
    _dbus: Running,
    service: Option<Running>,
}

fn run(command: &mut Command) -> String {
    let out = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(out.status.success(), "{command:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn missing_for_rauc() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if uid.ok().as_deref() != Some("0") {
        return Some("not root (RAUC mounts bundles through loop devices)".into());
    }
    for tool in ["rauc", "mksquashfs", "dbus-daemon", "openssl", "losetup"] {
        let found = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output();
        if !found.is_ok_and(|o| o.status.success()) {
            return Some(format!("{tool} is missing (tools/deps update)"));
        }
    }
    let loop_free = Command::new("losetup").arg("-f").output();
    if !loop_free.is_ok_and(|o| o.status.success()) {
        return Some("no free loop device".into());
    }
    None
}

impl Rig {
    fn start() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let p = |name: &str| dir.path().join(name);
        for (slot, size) in [("bootA", 4), ("bootB", 4), ("rootA", 8), ("rootB", 8)] {
            std::fs::write(p(&format!("{slot}.img")), vec![slot.as_bytes()[4]; size << 20]).unwrap();
        }
        // A new card: slot A committed, and tried.
        std::fs::write(p("autoboot.txt"), "[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=2\n")
            .unwrap();
        let backend = format!(
            "#!/bin/sh\nexec {} boot-slot --file {} \"$@\"\n",
            env!("CARGO_BIN_EXE_confcamd"),
            p("autoboot.txt").display()
        );
        std::fs::write(p("backend"), backend).unwrap();
        run(Command::new("chmod").arg("+x").arg(p("backend")));
        for keys in ["keys", "other"] {
            run(Command::new(format!("{REPO}/tools/rauc-keys")).arg(p(keys)).args(["--name", keys]));
        }
        // The image's system.conf, its devices files here.
        let template =
            std::fs::read_to_string(format!("{REPO}/yocto/meta-confcam/recipes-core/rauc/files/system.conf.in"))
                .unwrap();
        let mut conf = template;
        for (key, value) in [
            ("@COMPATIBLE@", "confcam-test".to_string()),
            ("@FORMATS@", "plain verity".into()),
            ("@DATA_DIR@", p("rauc").display().to_string()),
            ("@BACKEND@", p("backend").display().to_string()),
            ("@KEYRING@", p("keys/ca.cert.pem").display().to_string()),
            ("@BOOT_A@", p("bootA.img").display().to_string()),
            ("@ROOT_A@", p("rootA.img").display().to_string()),
            ("@BOOT_B@", p("bootB.img").display().to_string()),
            ("@ROOT_B@", p("rootB.img").display().to_string()),
        ] {
            conf = conf.replace(key, &value);
        }
        assert!(!conf.contains('@'), "every placeholder filled: {conf}");
        std::fs::write(p("system.conf"), conf).unwrap();
        std::fs::create_dir(p("rauc")).unwrap();
        let socket = p("bus");
        std::fs::write(
            p("bus.conf"),
            format!(
                "<busconfig><type>system</type><listen>unix:path={}</listen><auth>EXTERNAL</auth>\
                 <policy context=\"default\"><allow user=\"*\"/><allow own=\"*\"/>\
                 <allow send_destination=\"*\"/><allow receive_sender=\"*\"/></policy></busconfig>",
                socket.display()
            ),
        )
        .unwrap();
        // It prints its address once it takes connections.
        let mut dbus = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", p("bus.conf").display()))
            .args(["--nofork", "--print-address"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut address = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(dbus.stdout.take().unwrap()), &mut address).unwrap();
        assert!(address.starts_with("unix:path="), "dbus-daemon said {address:?}");
        let bus = address.trim().to_string();
        let mut rig = Rig { dir, bus, _dbus: Running(dbus), service: None };
        rig.boot_into("A");
        rig
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// RAUC's service as it starts on a box booted into `slot`.
    fn boot_into(&mut self, slot: &str) {
        self.service = None;
        let log = std::fs::File::create(self.path(&format!("service-{slot}.log"))).unwrap();
        let service = Command::new("rauc")
            .arg(format!("--conf={}", self.path("system.conf").display()))
            .arg("service")
            .arg(format!("--override-boot-slot={slot}"))
            .env("DBUS_SYSTEM_BUS_ADDRESS", &self.bus)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.service = Some(Running(service));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let status = Command::new("rauc").arg("status").env("DBUS_SYSTEM_BUS_ADDRESS", &self.bus).output().unwrap();
            if status.status.success() {
                break;
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(self.path(&format!("service-{slot}.log"))).unwrap_or_default();
                panic!("RAUC's service not up in slot {slot}: {}\n{log}", String::from_utf8_lossy(&status.stderr));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn rauc(&self) -> confcam::update::Rauc {
        confcam::update::Rauc::on_bus("rauc".into(), self.bus.clone())
    }

    /// A bundle of `boot` and `root` images (one byte repeated) signed
    /// with `keys`.
    fn bundle(&self, name: &str, keys: &str, fill: u8) -> PathBuf {
        let (boot, root, out) =
            (self.path(&format!("{name}.vfat")), self.path(&format!("{name}.ext4")), self.path(name));
        std::fs::write(&boot, vec![fill; 4 << 20]).unwrap();
        std::fs::write(&root, vec![fill; 8 << 20]).unwrap();
        run(Command::new(format!("{REPO}/tools/bundle"))
            .arg("--boot")
            .arg(&boot)
            .arg("--rootfs")
            .arg(&root)
            .arg("--keys")
            .arg(self.path(keys))
            .args(["--compatible", "confcam-test", "--format", "plain", "--version", "2"])
            .arg(&out));
        out
    }

    fn slot_is(&self, slot: &str, fill: u8) -> bool {
        std::fs::read(self.path(&format!("{slot}.img"))).unwrap().iter().all(|&b| b == fill)
    }

    fn autoboot(&self) -> confcam::update::Autoboot {
        confcam::update::Autoboot::parse(&std::fs::read_to_string(self.path("autoboot.txt")).unwrap()).unwrap()
    }
}

/// Polls `GET /api/update` until the update is no longer under way.
async fn settled(http: &reqwest::Client, base: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let status: Value = http.get(format!("{base}/api/update")).send().await.unwrap().json().await.unwrap();
        if !matches!(status["state"].as_str(), Some("receiving" | "installing")) {
            return status;
        }
        assert!(Instant::now() < deadline, "still under way after 2 minutes: {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn upload(http: &reqwest::Client, base: &str, bundle: &Path) -> reqwest::Response {
    http.post(format!("{base}/api/update")).body(std::fs::read(bundle).unwrap()).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_bundle_installs_into_the_other_slot_and_is_kept_once_healthy_there() {
    if let Some(why) = missing_for_rauc() {
        eprintln!("\n########\n#  UPDATE TEST SKIPPED: {why}\n#  RAUC was NOT tested on this machine.\n########\n");
        return;
    }
    let mut rig = Rig::start();
    let good = rig.bundle("good.raucb", "keys", 0x47);
    let foreign = rig.bundle("foreign.raucb", "other", 0x46);

    let b = start_with(small_config(), |boot| boot.rauc = Some(rig.rauc())).await;
    let base = format!("https://{}", b.https);
    let admin = admin_client(&base).await;
    let idle: Value = admin.get(format!("{base}/api/update")).send().await.unwrap().json().await.unwrap();
    assert_eq!((idle["supported"].as_bool(), idle["state"].as_str()), (Some(true), Some("idle")), "{idle}");

    // A bundle signed by someone else: refused with RAUC's reason, nothing
    // written, nothing to restart into.
    let r = upload(&admin, &base, &foreign).await;
    assert_eq!(r.status(), 202);
    let refused = settled(&admin, &base).await;
    assert_eq!(refused["state"], "failed", "{refused}");
    assert!(refused["error"].as_str().unwrap().contains("signature verification failed"), "{refused}");
    assert!(rig.slot_is("bootB", b'B') && rig.slot_is("rootB", b'B'), "slot B untouched");
    assert_eq!(rig.autoboot(), confcam::update::Autoboot { committed: Slot::A, tryboot: Slot::A });
    let r = admin.post(format!("{base}/api/update/restart")).send().await.unwrap();
    assert_eq!(r.status(), 409);
    assert!(r.json::<Value>().await.unwrap()["error"].as_str().unwrap().contains("no update is installed"));
    assert!(!b.dir.path().join("update").join("bundle.raucb").exists(), "the refused bundle is gone");

    // Garbage is refused the same way; an oversized declaration at once.
    let r = admin.post(format!("{base}/api/update")).body(vec![b'x'; 1 << 20]).send().await.unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(settled(&admin, &base).await["state"], "failed");
    let r = admin
        .post(format!("{base}/api/update"))
        .header("content-length", (1u64 << 40).to_string())
        .body(vec![b'x'; 10])
        .send()
        .await;
    if let Ok(r) = r {
        assert_eq!(r.status(), 413);
    }

    // Ours: written to slot B, which the next tryboot restart tries.
    let r = upload(&admin, &base, &good).await;
    assert_eq!(r.status(), 202, "{:?}", r.text().await);
    let installed = settled(&admin, &base).await;
    assert_eq!(installed["state"], "installed", "{installed}");
    assert!(rig.slot_is("bootB", 0x47) && rig.slot_is("rootB", 0x47), "slot B written");
    assert!(rig.slot_is("bootA", b'A') && rig.slot_is("rootA", b'A'), "the running slot untouched");
    assert_eq!(rig.autoboot(), confcam::update::Autoboot { committed: Slot::A, tryboot: Slot::B });
    let r = admin.post(format!("{base}/api/update/restart")).send().await.unwrap();
    assert_eq!(r.status(), 202);
    let flag = std::fs::read_to_string(b.dir.path().join("update").join("restart-tryboot")).unwrap();
    assert_eq!(flag.trim(), "0 tryboot");
    b.running.shutdown().await;

    // The box comes up in slot B (the firmware's tryboot) and, healthy
    // there for a while, keeps it.
    rig.boot_into("B");
    let b = start_with(small_config(), |boot| boot.rauc = Some(rig.rauc())).await;
    let deadline = Instant::now() + confcam::update::commit::HEALTHY_FOR + Duration::from_secs(60);
    while rig.autoboot().committed != Slot::B {
        assert!(Instant::now() < deadline, "slot B not kept: {:?}", rig.autoboot());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(rig.autoboot(), confcam::update::Autoboot { committed: Slot::B, tryboot: Slot::A });
    let health: Value =
        client().get(format!("https://{}/healthz", b.https)).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
    b.running.shutdown().await;
}
