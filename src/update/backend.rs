//! RAUC's custom bootloader backend, the shell around [`Autoboot`]: reads
//! `autoboot.txt`, answers the verb, and writes the file back when the verb
//! changed it, so that a power cut leaves the old file or the new one.

use std::path::Path;

use super::Autoboot;
use crate::system::durable;

/// Where the image mounts the firmware's first partition.
pub const AUTOBOOT_FILE: &str = "/boot/autoboot/autoboot.txt";

/// Runs one backend verb on `file`; returns what RAUC reads on stdout.
pub fn run(file: &Path, args: &[&str]) -> Result<String, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let autoboot = Autoboot::parse(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    let (out, next) = autoboot.backend(args)?;
    if let Some(next) = next {
        let written = durable::replace(file, next.render().as_bytes(), 0o644)
            .and_then(|()| durable::sync_dir(file.parent().unwrap_or(Path::new("."))));
        written.map_err(|e| format!("writing {}: {e}", file.display()))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::update::Slot;

    #[test]
    fn a_verb_that_changes_the_slots_rewrites_the_file_and_a_question_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("autoboot.txt");
        std::fs::write(&file, Autoboot::default().render()).unwrap();
        let before = std::fs::metadata(&file).unwrap().modified().unwrap();
        assert_eq!(run(&file, &["get-primary"]).unwrap(), "A");
        assert_eq!(std::fs::metadata(&file).unwrap().modified().unwrap(), before);
        run(&file, &["set-state", "B", "good"]).unwrap();
        let now = Autoboot::parse(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(now.committed, Slot::B);
        assert!(!dir.path().join(".autoboot.txt.tmp").exists());
        assert!(run(&dir.path().join("missing.txt"), &["get-primary"]).unwrap_err().contains("missing.txt"));
    }
}
