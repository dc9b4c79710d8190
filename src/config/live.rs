//! The settings the admin page changes, and how a change is checked: each
//! key against the running configuration, all or nothing.

use serde_json::{Map, Value};

use super::overlay::lookup;
use super::{Config, OverlayError, apply_settings};

/// When a change to a setting takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Takes {
    /// At once, while the box runs.
    Now,
    /// At the next start (the device is opened once).
    Restart,
}

/// Every setting the admin page may change, in the page's order.
pub const EDITABLE: &[(&str, Takes)] = &[
    ("room.name", Takes::Now),
    ("meeting.join_code", Takes::Now),
    ("camera[0].device", Takes::Restart),
    ("camera[0].width", Takes::Restart),
    ("camera[0].height", Takes::Restart),
    ("camera[0].fps", Takes::Restart),
    ("microphone.device", Takes::Restart),
    ("microphone.profile", Takes::Restart),
    ("microphone.echo_cancellation", Takes::Restart),
    ("microphone.noise_suppression", Takes::Restart),
    ("microphone.gain_control", Takes::Restart),
    ("speaker.enabled", Takes::Restart),
    ("speaker.device", Takes::Restart),
    ("speaker.volume_percent", Takes::Now),
    ("speaker.far_end_muted", Takes::Now),
    ("director.mode", Takes::Now),
    ("director.reaction_ms", Takes::Now),
    ("director.hold_ms", Takes::Now),
    ("director.group_after_silence_ms", Takes::Now),
    ("director.pan_ms", Takes::Now),
    ("director.zoom_percent", Takes::Now),
    ("checkin.enabled", Takes::Now),
    ("checkin.threshold_percent", Takes::Now),
    ("checkin.retention_days", Takes::Now),
    ("checkin.keep_photos", Takes::Now),
];

pub fn takes(key: &str) -> Option<Takes> {
    EDITABLE.iter().find(|(k, _)| *k == key).map(|(_, t)| *t)
}

/// The editable settings' current values, by key.
pub fn values(config: &Config) -> Map<String, Value> {
    let mut tree = serde_json::to_value(config).unwrap_or(Value::Null);
    EDITABLE.iter().map(|(key, _)| (key.to_string(), lookup(&mut tree, key).cloned().unwrap_or(Value::Null))).collect()
}

/// The keys whose running value is not yet the one set: changed since the
/// box started (`booted`) and taking effect only at a restart.
pub fn waiting_for_restart(booted: &Config, current: &Config) -> Vec<String> {
    let (then, now) = (values(booted), values(current));
    EDITABLE
        .iter()
        .filter(|(key, t)| *t == Takes::Restart && then.get(*key) != now.get(*key))
        .map(|(key, _)| key.to_string())
        .collect()
}

/// A change checked against `current`: the new configuration, or an error
/// for each key that does not fit. Each key is checked on its own first, so
/// every bad field is named at once, then all together (a rule across
/// fields names its key).
pub fn change(current: &Config, changes: &Map<String, Value>) -> Result<Config, Vec<OverlayError>> {
    let mut errors = Vec::new();
    let mut settings = Vec::new();
    for (key, value) in changes {
        if takes(key).is_none() {
            errors.push(OverlayError { key: key.clone(), message: "is not a setting the admin page changes".into() });
            continue;
        }
        let (_, rejected) = apply_settings(current.clone(), &[(key.clone(), value.clone())]);
        errors.extend(rejected.into_iter().map(|e| OverlayError { key: e.key, message: plain(&e.message) }));
        settings.push((key.clone(), value.clone()));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let (next, rejected) = apply_settings(current.clone(), &settings);
    if !rejected.is_empty() {
        return Err(rejected.into_iter().map(|e| OverlayError { key: e.key, message: plain(&e.message) }).collect());
    }
    Ok(next)
}

/// serde's wording, without the type names a person does not need.
fn plain(message: &str) -> String {
    message.replace("invalid type: ", "").replace("invalid value: ", "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn every_editable_key_reads_a_value() {
        let values = values(&Config::default());
        for (key, _) in EDITABLE {
            assert!(values.contains_key(*key), "{key}");
        }
        assert_eq!(values["director.reaction_ms"], json!(500));
        assert_eq!(values["meeting.join_code"], Value::Null);
        assert_eq!(values["camera[0].device"], json!("auto"));
    }

    #[test]
    fn a_good_change_applies_and_says_what_waits_for_a_restart() {
        let changes = map(json!({"director.reaction_ms": 900, "camera[0].fps": 15, "camera[0].width": 1280}));
        let next = change(&Config::default(), &changes).unwrap();
        assert_eq!(next.director.reaction_ms.get(), 900);
        assert_eq!(next.camera[0].fps.get(), 15);
        // The width did not change, so nothing waits for it.
        assert_eq!(waiting_for_restart(&Config::default(), &next), ["camera[0].fps"]);
        // Set back as it started: nothing waits any more.
        let back = change(&next, &map(json!({"camera[0].fps": 30}))).unwrap();
        assert!(waiting_for_restart(&Config::default(), &back).is_empty());
    }

    #[test]
    fn every_bad_field_is_named_and_nothing_applies() {
        let changes = map(json!({
            "room.name": "",
            "director.reaction_ms": 50,
            "meeting.join_code": "12ab",
            "server.https_port": 1,
            "checkin.enabled": true,
        }));
        let errors = change(&Config::default(), &changes).unwrap_err();
        let mut keys: Vec<_> = errors.iter().map(|e| e.key.as_str()).collect();
        keys.sort();
        assert_eq!(keys, ["director.reaction_ms", "meeting.join_code", "room.name", "server.https_port"]);
        let reaction = errors.iter().find(|e| e.key == "director.reaction_ms").unwrap();
        assert!(reaction.message.contains("100") && reaction.message.contains("5000"), "{}", reaction.message);
        assert!(!reaction.message.contains("invalid"), "{}", reaction.message);
    }

    #[test]
    fn a_fixed_code_and_back_to_a_fresh_one() {
        let fixed = change(&Config::default(), &map(json!({"meeting.join_code": "135790"}))).unwrap();
        assert_eq!(fixed.meeting.join_code.as_deref(), Some("135790"));
        let fresh = change(&fixed, &map(json!({"meeting.join_code": null}))).unwrap();
        assert_eq!(fresh.meeting.join_code, None);
    }
}
