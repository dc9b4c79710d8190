//! The Raspberry Pi firmware's A/B boot switching, sans-IO.
//!
//! Why the firmware's `tryboot` and not U-Boot: the Pi 4 and 5 firmware
//! boots a partition named in `autoboot.txt` (on the first FAT partition)
//! and, once, after `reboot "0 tryboot"`, the one its `[tryboot]` section
//! names. A slot is then a boot partition (kernel, device trees,
//! config.txt, a cmdline.txt naming its root and `rauc.slot=`) and a root
//! partition, so a new kernel or firmware is rolled back as well as a new
//! root; a slot that hangs before userspace is left by the next power
//! cycle; and there is no second bootloader or environment to keep.
//!
//! The committed slot is the one `[all] boot_partition` names; an update
//! writes the other slot and names it in `[tryboot]`; the box reboots into
//! it with `0 tryboot`; confcamd, healthy there, marks it good, which
//! commits it. Any reboot before that boots the committed slot again.
//! RAUC asks and tells through its custom backend's verbs
//! ([`Autoboot::backend`]).

use std::fmt;

/// A slot, by RAUC's bootname, and its boot partition's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    A,
    B,
}

impl Slot {
    pub fn partition(self) -> u8 {
        match self {
            Slot::A => 2,
            Slot::B => 3,
        }
    }

    pub fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }

    fn of_partition(partition: u8) -> Option<Slot> {
        [Slot::A, Slot::B].into_iter().find(|s| s.partition() == partition)
    }

    fn of_bootname(name: &str) -> Result<Slot, String> {
        match name {
            "A" => Ok(Slot::A),
            "B" => Ok(Slot::B),
            _ => Err(format!("no slot with the bootname {name:?} (A or B)")),
        }
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Slot::A => "A",
            Slot::B => "B",
        })
    }
}

/// What `autoboot.txt` says: the committed slot and the one a `tryboot`
/// reboot tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Autoboot {
    pub committed: Slot,
    pub tryboot: Slot,
}

impl Default for Autoboot {
    /// A new card: slot A, and B to try.
    fn default() -> Self {
        Autoboot { committed: Slot::A, tryboot: Slot::B }
    }
}

impl Autoboot {
    /// Reads the file as the firmware would: `boot_partition=` in `[all]`
    /// and in `[tryboot]`; other sections and lines are not ours.
    pub fn parse(text: &str) -> Result<Autoboot, String> {
        let (mut section, mut ab) = ("all".to_string(), false);
        let (mut committed, mut tryboot) = (None, None);
        for line in text.lines().map(|l| l.split('#').next().unwrap_or("").trim()).filter(|l| !l.is_empty()) {
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.trim().to_string();
                continue;
            }
            let Some((key, value)) = line.split_once('=') else { continue };
            match (section.as_str(), key.trim()) {
                ("all", "tryboot_a_b") => ab = value.trim() == "1",
                (section @ ("all" | "tryboot"), "boot_partition") => {
                    let slot = value.trim().parse().ok().and_then(Slot::of_partition);
                    let slot = slot.ok_or_else(|| format!("boot_partition={} is neither slot's", value.trim()))?;
                    *(if section == "all" { &mut committed } else { &mut tryboot }) = Some(slot);
                }
                _ => {}
            }
        }
        if !ab {
            return Err("tryboot_a_b=1 is missing from [all]".into());
        }
        let committed = committed.ok_or("no boot_partition in [all]")?;
        Ok(Autoboot { committed, tryboot: tryboot.unwrap_or(committed.other()) })
    }

    /// The file, whole: the firmware reads nothing else from it.
    pub fn render(&self) -> String {
        format!(
            "# Written by confcamd (RAUC's bootloader backend): the committed slot,\n\
             # and the one a `reboot \"0 tryboot\"` tries once.\n\
             [all]\ntryboot_a_b=1\nboot_partition={}\n[tryboot]\nboot_partition={}\n",
            self.committed.partition(),
            self.tryboot.partition()
        )
    }

    /// One verb of RAUC's custom bootloader backend: what to print, and
    /// the file as it must be written afterwards (`None`: unchanged).
    ///
    /// - `get-primary`: the slot a normal boot starts, the committed one.
    /// - `set-primary S`: S was just written; it is tried at the next
    ///   `tryboot` reboot, and only committed when marked good.
    /// - `get-state S`: `good` for the committed slot, `bad` for the other
    ///   (written but never marked good, or being written).
    /// - `set-state S good`: commits S. `set-state S bad`: S must not boot
    ///   again: the other slot is committed when S was.
    pub fn backend(&self, args: &[&str]) -> Result<(String, Option<Autoboot>), String> {
        let changed = |next: Autoboot| if next == *self { None } else { Some(next) };
        match args {
            ["get-primary"] => Ok((self.committed.to_string(), None)),
            ["set-primary", slot] => {
                let slot = Slot::of_bootname(slot)?;
                let next = if slot == self.committed { *self } else { Autoboot { tryboot: slot, ..*self } };
                Ok((String::new(), changed(next)))
            }
            ["get-state", slot] => {
                let good = Slot::of_bootname(slot)? == self.committed;
                Ok((if good { "good" } else { "bad" }.to_string(), None))
            }
            ["set-state", slot, "good"] => {
                let slot = Slot::of_bootname(slot)?;
                Ok((String::new(), changed(Autoboot { committed: slot, tryboot: slot.other() })))
            }
            ["set-state", slot, "bad"] => {
                let slot = Slot::of_bootname(slot)?;
                let next =
                    if slot == self.committed { Autoboot { committed: slot.other(), tryboot: slot } } else { *self };
                Ok((String::new(), changed(next)))
            }
            _ => Err(format!("unknown backend call: {}", args.join(" "))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(autoboot: &mut Autoboot, args: &[&str]) -> String {
        let (out, next) = autoboot.backend(args).unwrap();
        if let Some(next) = next {
            // Every change survives a write and a read, as the firmware reads it.
            *autoboot = Autoboot::parse(&next.render()).unwrap();
            assert_eq!(*autoboot, next);
        }
        out
    }

    #[test]
    fn an_update_is_tried_once_and_committed_only_when_marked_good() {
        let mut card = Autoboot::default();
        assert_eq!(run(&mut card, &["get-primary"]), "A");
        // RAUC writes B: it marks it bad first, then makes it primary.
        run(&mut card, &["set-state", "B", "bad"]);
        run(&mut card, &["set-primary", "B"]);
        assert_eq!(card, Autoboot { committed: Slot::A, tryboot: Slot::B });
        assert_eq!(run(&mut card, &["get-primary"]), "A", "a normal boot still starts A");
        assert_eq!(run(&mut card, &["get-state", "B"]), "bad");
        // Booted into B by tryboot, healthy: marked good.
        run(&mut card, &["set-state", "B", "good"]);
        assert_eq!(card, Autoboot { committed: Slot::B, tryboot: Slot::A });
        assert_eq!(run(&mut card, &["get-primary"]), "B");
        assert_eq!(run(&mut card, &["get-state", "A"]), "bad");
    }

    #[test]
    fn an_update_never_marked_good_leaves_the_old_slot_committed() {
        let mut card = Autoboot::default();
        run(&mut card, &["set-state", "B", "bad"]);
        run(&mut card, &["set-primary", "B"]);
        // B booted once and never became healthy: the next reboot is a
        // normal one, into the committed slot.
        assert_eq!(card.committed, Slot::A);
        // Installing again into B from A works the same way.
        run(&mut card, &["set-primary", "B"]);
        assert_eq!(card, Autoboot { committed: Slot::A, tryboot: Slot::B });
    }

    #[test]
    fn marking_the_committed_slot_bad_commits_the_other() {
        let mut card = Autoboot { committed: Slot::B, tryboot: Slot::A };
        run(&mut card, &["set-state", "B", "bad"]);
        assert_eq!(card.committed, Slot::A);
    }

    #[test]
    fn the_cards_first_file_is_a_new_card_as_the_backend_sees_it() {
        let card = include_str!("../../yocto/meta-confcam/recipes-bsp/confcam-autoboot/files/autoboot.txt");
        assert_eq!(Autoboot::parse(card).unwrap(), Autoboot::default());
    }

    #[test]
    fn the_firmwares_file_is_read_with_its_comments_and_other_sections() {
        let text = "# ours\n[all]\ntryboot_a_b=1\nboot_partition=3 # B\n[pi5]\nboot_partition=2\n[tryboot]\nboot_partition=2\n";
        assert_eq!(Autoboot::parse(text).unwrap(), Autoboot { committed: Slot::B, tryboot: Slot::A });
        assert!(Autoboot::parse("[all]\nboot_partition=2\n").unwrap_err().contains("tryboot_a_b"));
        assert!(Autoboot::parse("[all]\ntryboot_a_b=1\nboot_partition=5\n").unwrap_err().contains("neither"));
        assert!(Autoboot::default().backend(&["set-state", "C", "good"]).unwrap_err().contains("bootname"));
        assert!(Autoboot::default().backend(&["reboot"]).is_err());
    }
}
