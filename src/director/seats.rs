//! Seats: where in the room talkers sit, learnt from directions of speech.
//! Evidence within [`SEAT_WIDTH_DEG`] of a known seat is that seat (and
//! nudges its azimuth); anything else is a new seat.

use std::time::Instant;

use crate::audio::doa::angle_between;

/// Talkers closer than this (seen from the box) share a seat: about a
/// shoulder's width at 1.5 m, and more than the DOA's spread in a live room.
pub const SEAT_WIDTH_DEG: f32 = 20.0;
/// Seats remembered at most; the longest unheard goes first.
const MAX_SEATS: usize = 16;
/// How far one piece of evidence moves a seat's azimuth.
const NUDGE: f32 = 0.1;

#[derive(Debug, Clone, Copy)]
struct Seat {
    azimuth_deg: f32,
    last_heard: Instant,
}

#[derive(Debug, Default)]
pub struct Seats {
    seats: Vec<Option<Seat>>,
}

impl Seats {
    /// The seat speech from `azimuth_deg` comes from (a new one if none is
    /// near). Seat numbers stay valid while the seat is remembered.
    pub fn place(&mut self, azimuth_deg: f32, now: Instant) -> usize {
        let nearest = self
            .seats
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.map(|s| (i, angle_between(s.azimuth_deg, azimuth_deg))))
            .filter(|&(_, d)| d <= SEAT_WIDTH_DEG / 2.0)
            .min_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((i, _)) = nearest
            && let Some(seat) = self.seats[i].as_mut()
        {
            // Along the shorter way round.
            let step = ((azimuth_deg - seat.azimuth_deg + 540.0).rem_euclid(360.0) - 180.0) * NUDGE;
            seat.azimuth_deg = (seat.azimuth_deg + step).rem_euclid(360.0);
            seat.last_heard = now;
            return i;
        }
        let fresh = Some(Seat { azimuth_deg: azimuth_deg.rem_euclid(360.0), last_heard: now });
        if let Some(free) = self.seats.iter().position(Option::is_none) {
            self.seats[free] = fresh;
            return free;
        }
        if self.seats.len() < MAX_SEATS {
            self.seats.push(fresh);
            return self.seats.len() - 1;
        }
        let oldest = (0..self.seats.len()).min_by_key(|&i| self.seats[i].map(|s| s.last_heard)).unwrap_or(0);
        self.seats[oldest] = fresh;
        oldest
    }

    /// A seat's azimuth (0 for a seat never placed).
    pub fn azimuth(&self, seat: usize) -> f32 {
        self.seats.get(seat).copied().flatten().map_or(0.0, |s| s.azimuth_deg)
    }

    /// Seats known, as (seat, azimuth).
    pub fn known(&self) -> impl Iterator<Item = (usize, f32)> + '_ {
        self.seats.iter().enumerate().filter_map(|(i, s)| s.map(|s| (i, s.azimuth_deg)))
    }
}
