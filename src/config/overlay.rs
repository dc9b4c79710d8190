use serde_json::Value;

use super::Config;

/// A stored runtime setting that could not be applied; the file's (or the
/// default) value stays in force for that key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("setting `{key}`: {message}")]
pub struct OverlayError {
    pub key: String,
    pub message: String,
}

/// Applies runtime settings (dotted keys such as `room.name` or
/// `camera[0].fps`, JSON values) over `config`, one at a time, in order.
///
/// A setting that does not fit (unknown key, wrong type, breaks a rule) is
/// skipped and reported, so a stale setting from an older release can never
/// stop the box from starting.
pub fn apply_settings(mut config: Config, settings: &[(String, Value)]) -> (Config, Vec<OverlayError>) {
    let mut errors = Vec::new();
    for (key, value) in settings {
        match apply_one(&config, key, value) {
            Ok(next) => config = next,
            Err(message) => errors.push(OverlayError { key: key.clone(), message }),
        }
    }
    (config, errors)
}

fn apply_one(config: &Config, key: &str, value: &Value) -> Result<Config, String> {
    let mut tree = serde_json::to_value(config).map_err(|e| e.to_string())?;
    let slot = lookup(&mut tree, key).ok_or_else(|| "no such setting".to_string())?;
    *slot = value.clone();
    let next: Config = serde_json::from_value(tree).map_err(|e| e.to_string())?;
    next.validate().map_err(|invalid| format!("{} {}", invalid.key, invalid.message))?;
    Ok(next)
}

/// The existing value at `a.b` / `a[2].b`; settings cannot create new keys.
pub(super) fn lookup<'a>(tree: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    let mut node = tree;
    for part in key.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((name, rest)) => (name, Some(rest.strip_suffix(']')?.parse::<usize>().ok()?)),
            None => (part, None),
        };
        node = node.as_object_mut()?.get_mut(name)?;
        if let Some(i) = index {
            node = node.as_array_mut()?.get_mut(i)?;
        }
    }
    Some(node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(key: &str, value: Value) -> (String, Value) {
        (key.to_string(), value)
    }

    #[test]
    fn settings_override_the_file() {
        let (c, errors) = apply_settings(
            Config::default(),
            &[set("room.name", json!("Board room")), set("camera[0].fps", json!(15))],
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(c.room.name, "Board room");
        assert_eq!(c.camera[0].fps.get(), 15);
    }

    #[test]
    fn a_bad_setting_is_skipped_and_named_and_the_rest_apply() {
        let (c, errors) = apply_settings(
            Config::default(),
            &[
                set("camera[0].fps", json!(500)),
                set("room.colour", json!("blue")),
                set("camera[3].fps", json!(5)),
                set("room.name", json!("")),
                set("server.https_port", json!(9443)),
            ],
        );
        let keys: Vec<_> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["camera[0].fps", "room.colour", "camera[3].fps", "room.name"]);
        assert!(errors[0].message.contains("between 1 and 60"), "{}", errors[0]);
        assert_eq!(c.camera[0].fps.get(), 30);
        assert_eq!(c.room.name, "Meeting room");
        assert_eq!(c.server.https_port, 9443);
    }
}
