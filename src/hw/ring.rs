use super::Rgb;

/// Red all round: the microphones are muted.
const MUTED: Rgb = Rgb(96, 0, 0);
/// A soft blue: live, nobody speaking.
const LIVE: Rgb = Rgb(0, 8, 32);
/// Toward the talker.
const TALKER: Rgb = Rgb(0, 64, 96);
const NEAR_TALKER: Rgb = Rgb(0, 24, 48);

/// What the LED ring shows: red all round when the microphones are muted;
/// when live, a soft blue with the LEDs toward the talker lit (`talker`:
/// their azimuth). LED `i` sits at `i × 360° / count`, counter-clockwise
/// from the array's x axis, as the microphones are numbered. Kept dim: it
/// sits in people's eye line.
pub fn ring_colors(muted: bool, count: usize, talker: Option<f32>) -> Vec<Rgb> {
    if muted {
        return vec![MUTED; count];
    }
    let mut colors = vec![LIVE; count];
    if let Some(azimuth) = talker.filter(|_| count > 0) {
        let step = 360.0 / count as f32;
        let nearest = (azimuth.rem_euclid(360.0) / step).round() as usize % count;
        colors[(nearest + count - 1) % count] = NEAR_TALKER;
        colors[(nearest + 1) % count] = NEAR_TALKER;
        colors[nearest] = TALKER;
    }
    colors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn muted_is_red_live_is_blue() {
        assert!(ring_colors(true, 12, Some(40.0)).iter().all(|c| c.0 > 0 && c.1 == 0 && c.2 == 0));
        assert!(ring_colors(false, 12, None).iter().all(|c| *c == LIVE));
        assert_eq!(ring_colors(false, 0, Some(10.0)).len(), 0);
    }

    #[test]
    fn the_led_toward_the_talker_is_lit_with_its_neighbours() {
        // 12 LEDs, 30° apart: 40° is nearest LED 1, 220° LED 7, 350° LED 0.
        for (azimuth, led) in [(40.0, 1), (220.0, 7), (350.0, 0), (-20.0, 11)] {
            let ring = ring_colors(false, 12, Some(azimuth));
            assert_eq!(ring.iter().position(|&c| c == TALKER), Some(led), "{azimuth}°");
            assert_eq!(ring.iter().filter(|&&c| c == NEAR_TALKER).count(), 2);
            assert_eq!(ring[(led + 1) % 12], NEAR_TALKER);
            assert_eq!(ring[(led + 11) % 12], NEAR_TALKER);
        }
    }
}
