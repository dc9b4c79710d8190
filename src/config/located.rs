//! Finds where a key sits in a TOML text, so every config error can name both
//! the key and its line. A line scanner is enough: the file is small and the
//! parser has already accepted or rejected its syntax.

/// A key (dotted path, `camera[1].fps`) and the 1-based line it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLine {
    pub key: String,
    pub line: usize,
}

/// Every table header and `key = value` line of a TOML text, in order.
pub struct KeyIndex {
    entries: Vec<(KeyLine, usize)>, // (key, byte offset of the line start)
    line_starts: Vec<usize>,
}

impl KeyIndex {
    pub fn new(source: &str) -> Self {
        let mut entries = Vec::new();
        let mut line_starts = Vec::new();
        let mut prefix = String::new();
        let mut array_counts: Vec<(String, usize)> = Vec::new();
        let mut offset = 0;
        for (i, raw) in source.split_inclusive('\n').enumerate() {
            line_starts.push(offset);
            let line = strip_comment(raw).trim();
            let number = i + 1;
            if let Some(name) = line.strip_prefix("[[").and_then(|l| l.strip_suffix("]]")) {
                let name = clean_key(name);
                let n = match array_counts.iter_mut().find(|(k, _)| *k == name) {
                    Some((_, n)) => {
                        *n += 1;
                        *n
                    }
                    None => {
                        array_counts.push((name.clone(), 0));
                        0
                    }
                };
                prefix = format!("{name}[{n}]");
                entries.push((KeyLine { key: prefix.clone(), line: number }, offset));
            } else if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                prefix = clean_key(name);
                entries.push((KeyLine { key: prefix.clone(), line: number }, offset));
            } else if let Some((key, _)) = line.split_once('=')
                && !key.trim().is_empty()
                && !key.contains(['{', '[', ','])
            {
                let key = clean_key(key);
                let key = if prefix.is_empty() { key } else { format!("{prefix}.{key}") };
                entries.push((KeyLine { key, line: number }, offset));
            }
            offset += raw.len();
        }
        KeyIndex { entries, line_starts }
    }

    /// The key whose line holds byte `offset`, or the last key above it (for
    /// values continued over several lines).
    pub fn at_offset(&self, offset: usize) -> Option<KeyLine> {
        let line = self.line_starts.partition_point(|&start| start <= offset);
        self.entries.iter().rev().find(|(k, _)| k.line <= line).map(|(k, _)| KeyLine { key: k.key.clone(), line })
    }

    /// Where `key` is set, or where its nearest enclosing table starts.
    pub fn find(&self, key: &str) -> Option<KeyLine> {
        let mut key = key;
        loop {
            if let Some((k, _)) = self.entries.iter().find(|(k, _)| k.key == key) {
                return Some(k.clone());
            }
            key = &key[..key.rfind(['.', '['])?];
        }
    }
}

fn strip_comment(line: &str) -> &str {
    let mut in_string = None;
    for (i, c) in line.char_indices() {
        match (c, in_string) {
            ('"' | '\'', None) => in_string = Some(c),
            (q, Some(open)) if q == open => in_string = None,
            ('#', None) => return &line[..i],
            _ => {}
        }
    }
    line
}

/// `a . "b c"` → `a.b c`.
fn clean_key(key: &str) -> String {
    key.split('.').map(|part| part.trim().trim_matches(['"', '\''])).collect::<Vec<_>>().join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# comment\nseed = 3\n[server]\nhttps_port = 8443 # port\n\n[[camera]]\nname = \"a\"\n[[camera]]\nname = \"b\"\nfps = [\n 1,\n]\n";

    #[test]
    fn finds_keys_in_tables_and_arrays_of_tables() {
        let index = KeyIndex::new(TEXT);
        assert_eq!(index.find("server.https_port"), Some(KeyLine { key: "server.https_port".into(), line: 4 }));
        assert_eq!(index.find("camera[1].name").unwrap().line, 9);
        assert_eq!(index.find("camera[1].width").unwrap(), KeyLine { key: "camera[1]".into(), line: 8 });
        assert_eq!(index.find("seed").unwrap().line, 2);
        assert_eq!(index.find("nothing"), None);
    }

    #[test]
    fn maps_offsets_to_the_key_on_or_above_the_line() {
        let index = KeyIndex::new(TEXT);
        let at = |needle: &str| index.at_offset(TEXT.find(needle).unwrap()).unwrap();
        assert_eq!(at("8443").key, "server.https_port");
        assert_eq!(at(" 1,").key, "camera[1].fps");
        assert_eq!(at(" 1,").line, 11);
    }
}
