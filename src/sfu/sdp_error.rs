//! What was wrong with an SDP, in words: str0m's parse errors point at the
//! failing byte by its memory address, which means nothing to a client and
//! says something about the box's memory it should not.

/// `error` (str0m's text for a failed parse of `sdp`) with the address
/// turned into the line it points at.
pub fn describe(sdp: &str, error: &str) -> String {
    let error = error.strip_prefix("SDP parse: ").unwrap_or(error);
    let mut parts = Vec::new();
    for line in error.lines().map(str::trim).filter(|l| !l.is_empty() && *l != "sdp line") {
        match line.strip_prefix("Parse error at PointerOffset(").and_then(|rest| rest.strip_suffix(')')) {
            Some(address) => {
                let at = u64::from_str_radix(address.trim_start_matches("0x"), 16).ok();
                let start = sdp.as_ptr() as u64;
                if let Some(offset) = at.and_then(|a| a.checked_sub(start)).filter(|&o| o <= sdp.len() as u64) {
                    let line_no = sdp.as_bytes()[..offset as usize].iter().filter(|&&b| b == b'\n').count() + 1;
                    parts.push(format!("line {line_no}"));
                }
            }
            None if line.contains("0x") => {}
            None => parts.push(line.to_owned()),
        }
    }
    if parts.is_empty() { "it does not parse as SDP".to_owned() } else { parts.join(": ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_error(sdp: &str) -> String {
        describe(sdp, &str0m::change::SdpOffer::from_sdp_string(sdp).expect_err("malformed").to_string())
    }

    #[test]
    fn the_failing_line_is_named_and_no_address_shows() {
        assert_eq!(parse_error("v=0\r\nthis is not sdp"), "line 2: Unexpected `t`: Expected `o`");
        assert_eq!(parse_error("garbage"), "line 1: Unexpected `g`: Expected `v`");
        let no_mid = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";
        assert!(!parse_error(no_mid).contains("0x"), "{}", parse_error(no_mid));
    }
}
