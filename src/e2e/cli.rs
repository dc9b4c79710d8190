use std::process::Command;

fn confcamd(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_confcamd")).args(args).env("RUST_LOG", "warn").output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn config_file(text: &str) -> tempfile::NamedTempFile {
    let f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    std::fs::write(f.path(), text).unwrap();
    f
}

#[test]
fn check_config_accepts_a_good_file() {
    let f = config_file("[room]\nname = \"Blue\"\n[server]\nhttps_port = 8443\n");
    let (code, out, _) = confcamd(&["check-config", f.path().to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.ends_with(": ok\n"), "{out}");
}

#[test]
fn check_config_names_the_bad_key_and_line() {
    let cases = [
        ("[server]\nhttps_port = 8443\nhttp_prot = 80\n", "3: key `server.http_prot`", "unknown field"),
        ("[[camera]]\nfps = \"fast\"\n", "2: key `camera[0].fps`", "invalid type"),
        ("[[camera]]\nname = \"w\"\n\nfps = 240\n", "4: key `camera[0].fps`", "between 1 and 60"),
    ];
    for (text, at, what) in cases {
        let f = config_file(text);
        let (code, _, err) = confcamd(&["check-config", f.path().to_str().unwrap()]);
        assert_eq!(code, 2, "{text}");
        assert!(err.contains(at) && err.contains(what), "{text} → {err}");
    }
}

#[test]
fn run_refuses_a_bad_config_and_says_why() {
    let f = config_file("[room]\nname = \"\"\n");
    let data = tempfile::tempdir().unwrap();
    let (code, _, err) =
        confcamd(&["run", "--config", f.path().to_str().unwrap(), "--data-dir", data.path().to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("refusing to start") && err.contains("room.name") && err.contains(":2:"), "{err}");
    assert!(std::fs::read_dir(data.path()).unwrap().next().is_none(), "nothing written");
}

#[test]
fn run_refuses_a_missing_config_file() {
    let (code, _, err) = confcamd(&["run", "--config", "/nonexistent/confcam.toml"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/confcam.toml"), "{err}");
}

#[test]
fn version_and_devices() {
    let (code, out, _) = confcamd(&["--version"]);
    assert_eq!((code, out.trim()), (0, format!("confcamd {}", env!("CARGO_PKG_VERSION")).as_str()));
    let (code, out, _) = confcamd(&["devices"]);
    assert_eq!(code, 0);
    assert!(out.contains("Cameras:") && out.contains("Microphones"), "{out}");
    let (code, out, _) = confcamd(&["devices", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["cameras"].is_array() && v["microphones"].is_array());
}
