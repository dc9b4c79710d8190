use super::Rgb;

/// What the LED ring shows for the box's state: red all round when the
/// microphones are muted, a soft blue when live. Kept dim: it sits in people's
/// eye line.
pub fn ring_colors(muted: bool, count: usize) -> Vec<Rgb> {
    let color = if muted { Rgb(96, 0, 0) } else { Rgb(0, 8, 32) };
    vec![color; count]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn muted_is_red_live_is_blue() {
        assert!(ring_colors(true, 12).iter().all(|c| c.0 > 0 && c.1 == 0 && c.2 == 0));
        assert!(ring_colors(false, 12).iter().all(|c| c.2 > c.0));
        assert_eq!(ring_colors(false, 0).len(), 0);
    }
}
