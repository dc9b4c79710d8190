use std::fmt;

/// The code people in the room type (or scan in the QR link) to join the
/// meeting, so someone elsewhere on the network cannot silently listen in.
/// Six digits: easy on a phone keypad; guessing is slowed by the join
/// throttle.
#[derive(Clone, PartialEq, Eq)]
pub struct JoinCode(String);

pub const JOIN_CODE_DIGITS: usize = 6;

impl JoinCode {
    /// A new unpredictable code.
    pub fn generate() -> Self {
        let rng = ring::rand::SystemRandom::new();
        let mut code = String::with_capacity(JOIN_CODE_DIGITS);
        while code.len() < JOIN_CODE_DIGITS {
            let mut byte = [0u8; 1];
            // The OS random source only fails on a broken system; a fixed
            // digit then would be worse than stopping.
            ring::rand::SecureRandom::fill(&rng, &mut byte).expect("the OS random source works");
            // Rejection sampling keeps the digits uniform (250 = 25 × 10).
            if byte[0] < 250 {
                code.push(char::from(b'0' + byte[0] % 10));
            }
        }
        JoinCode(code)
    }

    /// A code set by the admin (a fixed room code), if it is six digits.
    pub fn parse(text: &str) -> Option<Self> {
        let digits = normalise(text);
        (digits.len() == JOIN_CODE_DIGITS && digits.chars().all(|c| c.is_ascii_digit())).then_some(JoinCode(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `attempt` is this code; spaces and dashes are ignored (people
    /// type `123 456`), and the comparison takes the same time however many
    /// digits are right.
    pub fn matches(&self, attempt: &str) -> bool {
        let attempt = normalise(attempt);
        attempt.len() == self.0.len() && attempt.bytes().zip(self.0.bytes()).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0
    }
}

fn normalise(text: &str) -> String {
    text.chars().filter(|c| !matches!(c, ' ' | '-' | '\u{a0}')).take(32).collect()
}

impl fmt::Debug for JoinCode {
    /// Never printed in logs by accident.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JoinCode(******)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_vary() {
        let codes: Vec<String> = (0..50).map(|_| JoinCode::generate().as_str().to_string()).collect();
        assert!(codes.iter().all(|c| c.len() == 6 && c.chars().all(|d| d.is_ascii_digit())));
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert!(distinct.len() > 45);
    }

    #[test]
    fn matching_ignores_spacing_only() {
        let code = JoinCode::parse("123456").unwrap();
        assert!(code.matches("123456") && code.matches("123 456") && code.matches("123-456"));
        assert!(!code.matches("123457") && !code.matches("12345") && !code.matches("1234567") && !code.matches(""));
        assert_eq!(format!("{code:?}"), "JoinCode(******)");
        assert!(JoinCode::parse("12a456").is_none());
        assert_eq!(JoinCode::parse(" 042-117 ").unwrap().as_str(), "042117");
    }
}
