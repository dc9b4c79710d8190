//! What was wrong with an SDP, in words: str0m's parse errors point at the
//! failing byte by its memory address, which means nothing to a client and
//! says something about the box's memory it should not.

/// Lines an SDP may have. A browser's offer has a few hundred (Chrome's
/// with simulcast about 150); str0m's parser slows down with padding far
/// beyond that (10,000 extra lines took 7 s), so a longer one is refused
/// before it is parsed.
pub const MAX_LINES: usize = 1000;

/// Parses an offer, refusing one too long to be a client's.
pub fn parse_offer(sdp: &str) -> Result<str0m::change::SdpOffer, String> {
    within_bounds(sdp)?;
    str0m::change::SdpOffer::from_sdp_string(sdp).map_err(|e| describe(sdp, &e.to_string()))
}

/// Parses an answer, refusing one too long to be a client's.
pub fn parse_answer(sdp: &str) -> Result<str0m::change::SdpAnswer, String> {
    within_bounds(sdp)?;
    str0m::change::SdpAnswer::from_sdp_string(sdp).map_err(|e| describe(sdp, &e.to_string()))
}

fn within_bounds(sdp: &str) -> Result<(), String> {
    let lines = sdp.lines().count();
    if lines > MAX_LINES {
        return Err(format!("{lines} lines; a client's SDP has at most {MAX_LINES}"));
    }
    Ok(())
}

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
    fn a_padded_offer_is_refused_before_it_is_parsed_and_a_long_real_one_is_not() {
        let mut rtc = str0m::Rtc::builder().build(std::time::Instant::now());
        let mut change = rtc.sdp_api();
        change.add_media(str0m::media::MediaKind::Audio, str0m::media::Direction::SendRecv, None, None, None);
        change.add_media(str0m::media::MediaKind::Video, str0m::media::Direction::SendRecv, None, None, None);
        let (offer, _) = change.apply().unwrap();
        let real = offer.to_sdp_string();
        let padding = |lines: usize| "a=x\r\n".repeat(lines - real.lines().count());
        let started = std::time::Instant::now();
        let long = format!("{real}{}", padding(MAX_LINES));
        assert!(parse_offer(&long).is_ok(), "{} lines parse", long.lines().count());
        eprintln!("{MAX_LINES} lines parsed in {:?}", started.elapsed());
        let padded = format!("{real}{}", padding(10_000));
        let started = std::time::Instant::now();
        assert_eq!(parse_offer(&padded).unwrap_err(), "10000 lines; a client's SDP has at most 1000");
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "refused before parsing");
    }

    #[test]
    fn the_failing_line_is_named_and_no_address_shows() {
        assert_eq!(parse_error("v=0\r\nthis is not sdp"), "line 2: Unexpected `t`: Expected `o`");
        assert_eq!(parse_error("garbage"), "line 1: Unexpected `g`: Expected `v`");
        let no_mid = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";
        assert!(!parse_error(no_mid).contains("0x"), "{}", parse_error(no_mid));
    }
}
