use std::path::{Path, PathBuf};

use super::Config;
use super::located::KeyIndex;

/// Why a config file was refused. `Display` gives a one-line message naming the
/// file, the line and the key, which is what the operator needs to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}: key `{key}`: {message}")]
    Invalid { path: PathBuf, line: usize, key: String, message: String },
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
}

impl ConfigError {
    /// The dotted key the error is about, when there is one.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }

    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Invalid { line, .. } => Some(*line),
            _ => None,
        }
    }
}

/// Reads and validates a config file.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
    parse(&text, path)
}

/// Parses and validates config text; `path` is only used in messages.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let index = KeyIndex::new(text);
    let config: Config = toml::from_str(text).map_err(|e| {
        let message = first_line(e.message());
        match e.span().and_then(|span| index.at_offset(span.start)) {
            Some(at) => ConfigError::Invalid { path: path.into(), line: at.line, key: at.key, message },
            None => ConfigError::Syntax { path: path.into(), message },
        }
    })?;
    config.validate().map_err(|invalid| {
        let line = index.find(&invalid.key).map_or(0, |at| at.line);
        ConfigError::Invalid { path: path.into(), line, key: invalid.key, message: invalid.message }
    })?;
    Ok(config)
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or_default().trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(text: &str) -> ConfigError {
        parse(text, Path::new("confcam.toml")).unwrap_err()
    }

    #[test]
    fn empty_file_is_all_defaults() {
        assert_eq!(parse("", Path::new("x")).unwrap(), Config::default());
    }

    #[test]
    fn a_valid_file_sets_what_it_names() {
        let text = r#"
[room]
name = "Blue room"

[server]
https_port = 8443
http_port = 8080

[[camera]]
name = "wide"
fps = 15

[[camera]]
name = "tele"
device = "/dev/video2"

[microphone]
profile = "respeaker-4mic-hat"

[simulation]
talkers = [ { azimuth_deg = 30 }, { azimuth_deg = 270, pitch_hz = 200 } ]
"#;
        let c = parse(text, Path::new("x")).unwrap();
        assert_eq!(c.room.name, "Blue room");
        assert_eq!(c.server.https_port, 8443);
        assert_eq!(c.camera.len(), 2);
        assert_eq!(c.camera[0].fps.get(), 15);
        assert_eq!(c.camera[1].device, crate::config::DeviceChoice::Named("/dev/video2".into()));
        assert_eq!(c.camera[1].width.get(), 1280, "unset fields keep their defaults");
        assert_eq!(c.simulation.talkers[1].azimuth_deg.get(), 270);
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let e = parse_err("[room]\nname = \"x\"\n\n[server]\nhttps_prot = 1\n");
        assert_eq!(e.key(), Some("server.https_prot"));
        assert_eq!(e.line(), Some(5));
        assert!(e.to_string().contains("unknown field `https_prot`"), "{e}");
    }

    #[test]
    fn wrong_type_is_named_with_its_line() {
        let e = parse_err("[[camera]]\nname = \"wide\"\nfps = \"thirty\"\n");
        assert_eq!(e.key(), Some("camera[0].fps"));
        assert_eq!(e.line(), Some(3));
        assert!(e.to_string().starts_with("confcam.toml:3: key `camera[0].fps`: invalid type"), "{e}");
    }

    #[test]
    fn out_of_range_value_is_named_with_its_line() {
        let e = parse_err("\n[server]\nhttps_port = 70000\n");
        assert_eq!((e.key(), e.line()), (Some("server.https_port"), Some(3)));
        let e = parse_err("[[camera]]\nfps = 500\n");
        assert_eq!((e.key(), e.line()), (Some("camera[0].fps"), Some(2)));
        assert!(e.to_string().contains("must be between 1 and 60"), "{e}");
    }

    #[test]
    fn rules_across_keys_name_the_key_and_line() {
        let e = parse_err("[server]\nhttps_port = 8443\nhttp_port = 8443\n");
        assert_eq!((e.key(), e.line()), (Some("server.http_port"), Some(3)));
        let e = parse_err("[[camera]]\nname = \"a\"\n[[camera]]\nname = \"a\"\n");
        assert_eq!((e.key(), e.line()), (Some("camera[1].name"), Some(4)));
        let e = parse_err("[[camera]]\nwidth = 641\n");
        assert_eq!((e.key(), e.line()), (Some("camera[0].width"), Some(2)));
    }

    #[test]
    fn syntax_errors_give_the_line() {
        let e = parse_err("[room]\nname = \n");
        assert_eq!(e.line(), Some(2), "{e}");
    }

    #[test]
    fn an_unknown_board_profile_lists_the_known_ones() {
        let e = parse_err("[microphone]\nprofile = \"respeaker-9mic\"\n");
        assert_eq!(e.key(), Some("microphone.profile"));
        assert!(e.to_string().contains("respeaker-4mic-hat"), "{e}");
    }

    #[test]
    fn several_cameras_each_with_where_it_looks() {
        let text = "[[camera]]\nname = \"wide\"\ndevice = \"/dev/video0\"\n\n[[camera]]\nname = \"tele\"\ndevice = \"/dev/video2\"\nazimuth_deg = -30\nhfov_deg = 40\n";
        let config = parse(text, Path::new("confcam.toml")).unwrap();
        assert_eq!(config.camera.len(), 2);
        assert_eq!((config.camera[1].azimuth_deg.get(), config.camera[1].hfov_deg.get()), (-30, 40));
        let e = parse_err("[[camera]]\nhfov_deg = 200\n");
        assert_eq!((e.key(), e.line()), (Some("camera[0].hfov_deg"), Some(2)));
    }

    #[test]
    fn a_microphone_channel_map_must_fit_the_device() {
        let e = parse_err("[microphone]\nprofile = \"respeaker-4mic-hat\"\nchannel_map = [0, 1, 2, 4]\n");
        assert_eq!(e.key(), Some("microphone.channel_map"), "{e}");
        assert!(e.to_string().contains("has 4"), "{e}");
        let e = parse_err("[microphone]\nformat = \"S24_LE\"\n");
        assert_eq!(e.key(), Some("microphone.format"), "{e}");
    }
}
