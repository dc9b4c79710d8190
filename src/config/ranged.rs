use serde::{Deserialize, Serialize};
use std::fmt;

/// An integer that must lie in `LO..=HI`.
///
/// Deserialising an out-of-range value fails inside serde, so the TOML parser
/// reports it with the line and key like any other type error.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct InRange<const LO: i64, const HI: i64>(i64);

impl<const LO: i64, const HI: i64> InRange<LO, HI> {
    /// For defaults written in code; checked at compile time where used in a const.
    pub const fn new_const(v: i64) -> Self {
        assert!(v >= LO && v <= HI, "default outside its range");
        InRange(v)
    }

    pub fn new(v: i64) -> Result<Self, OutOfRange> {
        if (LO..=HI).contains(&v) { Ok(InRange(v)) } else { Err(OutOfRange { lo: LO, hi: HI, got: v }) }
    }

    pub const fn get(self) -> i64 {
        self.0
    }

    /// The value as `u32`; ranges used this way start at 0 or above.
    pub const fn as_u32(self) -> u32 {
        self.0 as u32
    }

    pub const fn as_f32(self) -> f32 {
        self.0 as f32
    }
}

impl<const LO: i64, const HI: i64> TryFrom<i64> for InRange<LO, HI> {
    type Error = OutOfRange;
    fn try_from(v: i64) -> Result<Self, OutOfRange> {
        Self::new(v)
    }
}

impl<const LO: i64, const HI: i64> From<InRange<LO, HI>> for i64 {
    fn from(v: InRange<LO, HI>) -> i64 {
        v.0
    }
}

impl<const LO: i64, const HI: i64> fmt::Debug for InRange<LO, HI> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<const LO: i64, const HI: i64> fmt::Display for InRange<LO, HI> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{got} is out of range: must be between {lo} and {hi}")]
pub struct OutOfRange {
    lo: i64,
    hi: i64,
    got: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_bounds_and_refuses_outside() {
        assert_eq!(InRange::<1, 60>::new(1).unwrap().get(), 1);
        assert_eq!(InRange::<1, 60>::new(60).unwrap().get(), 60);
        assert!(InRange::<1, 60>::new(0).is_err());
        let err = InRange::<-90, 0>::new(3).unwrap_err();
        assert_eq!(err.to_string(), "3 is out of range: must be between -90 and 0");
    }
}
