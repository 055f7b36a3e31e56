//! Time slots, the business's booking calendar, and availability.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::contact::InvalidField;

/// The longest visit we accept in one appointment.
pub const MAX_SLOT: Duration = Duration::hours(12);
/// The shortest visit we accept.
pub const MIN_SLOT: Duration = Duration::minutes(15);

/// A half-open interval `[starts_at, ends_at)` of between 15 minutes and 12 hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeSlot {
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
}

impl TimeSlot {
    pub fn new(starts_at: DateTime<Utc>, ends_at: DateTime<Utc>) -> Result<Self, InvalidField> {
        if ends_at <= starts_at {
            return Err(InvalidField::new("endTime", "must be after startTime"));
        }
        let length = ends_at - starts_at;
        if length < MIN_SLOT {
            return Err(InvalidField::new(
                "endTime",
                "the visit must last at least 15 minutes",
            ));
        }
        if length > MAX_SLOT {
            return Err(InvalidField::new(
                "endTime",
                "the visit must last at most 12 hours",
            ));
        }
        Ok(Self { starts_at, ends_at })
    }

    pub fn starts_at(&self) -> DateTime<Utc> {
        self.starts_at
    }

    pub fn ends_at(&self) -> DateTime<Utc> {
        self.ends_at
    }

    pub fn overlaps(&self, other: &TimeSlot) -> bool {
        self.starts_at < other.ends_at && other.starts_at < self.ends_at
    }
}

/// When the business takes visits, and how many at once (e.g. its number of crews).
#[derive(Debug, Clone, PartialEq)]
pub struct BookingCalendar {
    pub timezone: Tz,
    pub day_start: NaiveTime,
    pub day_end: NaiveTime,
    pub slot_length: Duration,
    /// How many appointments may overlap at any moment.
    pub capacity: u32,
}

impl Default for BookingCalendar {
    fn default() -> Self {
        Self {
            timezone: chrono_tz::Europe::Amsterdam,
            day_start: NaiveTime::from_hms_opt(8, 0, 0).unwrap_or(NaiveTime::MIN),
            day_end: NaiveTime::from_hms_opt(18, 0, 0).unwrap_or(NaiveTime::MIN),
            slot_length: Duration::hours(2),
            capacity: 1,
        }
    }
}

/// One bookable slot of a day and how many more bookings it can take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlotAvailability {
    pub slot: TimeSlot,
    pub remaining: u32,
}

impl BookingCalendar {
    /// The start of `date` in the business's time zone, as a UTC instant.
    pub fn local_instant(&self, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
        self.timezone
            .from_local_datetime(&date.and_time(time))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The UTC interval covering the business day `date`.
    pub fn day_bounds(&self, date: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        Some((
            self.local_instant(date, self.day_start)?,
            self.local_instant(date, self.day_end)?,
        ))
    }

    /// The slots of a business day, back to back from opening to closing.
    pub fn slots_of(&self, date: NaiveDate) -> Vec<TimeSlot> {
        let Some((open, close)) = self.day_bounds(date) else {
            return Vec::new();
        };
        let mut slots = Vec::new();
        let mut start = open;
        while start + self.slot_length <= close {
            if let Ok(slot) = TimeSlot::new(start, start + self.slot_length) {
                slots.push(slot);
            }
            start += self.slot_length;
        }
        slots
    }

    /// Whether one more appointment in `wanted` fits beside the already `booked` ones.
    /// The peak overlap inside `wanted` must stay below capacity.
    pub fn fits(&self, wanted: &TimeSlot, booked: &[TimeSlot]) -> bool {
        fits_capacity(self.capacity, wanted, booked)
    }

    /// Availability of each slot of `date`, given the active bookings around it.
    pub fn availability(&self, date: NaiveDate, booked: &[TimeSlot]) -> Vec<SlotAvailability> {
        self.slots_of(date)
            .into_iter()
            .map(|slot| SlotAvailability {
                slot,
                remaining: self.capacity.saturating_sub(peak_overlap(&slot, booked)),
            })
            .collect()
    }
}

/// Whether one more appointment in `wanted` keeps every moment at or below `capacity`.
pub fn fits_capacity(capacity: u32, wanted: &TimeSlot, booked: &[TimeSlot]) -> bool {
    peak_overlap(wanted, booked) < capacity
}

/// The largest number of `booked` slots that overlap one another inside `window`.
fn peak_overlap(window: &TimeSlot, booked: &[TimeSlot]) -> u32 {
    // Sweep over the start and end points of the bookings that touch the window.
    let mut events: Vec<(DateTime<Utc>, i32)> = booked
        .iter()
        .filter(|b| b.overlaps(window))
        .flat_map(|b| {
            [
                (b.starts_at.max(window.starts_at), 1),
                (b.ends_at.min(window.ends_at), -1),
            ]
        })
        .collect();
    // Ends sort before starts at the same instant: back-to-back visits do not overlap.
    events.sort();
    let mut current = 0i32;
    let mut peak = 0i32;
    for (_, delta) in events {
        current += delta;
        peak = peak.max(current);
    }
    u32::try_from(peak).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 6, 3, h, m, 0).unwrap()
    }

    fn slot(h1: u32, h2: u32) -> TimeSlot {
        TimeSlot::new(at(h1, 0), at(h2, 0)).unwrap()
    }

    #[test]
    fn a_slot_must_end_after_it_starts_and_stay_within_bounds() {
        assert_eq!(
            TimeSlot::new(at(10, 0), at(10, 0)).unwrap_err().field,
            "endTime"
        );
        assert!(TimeSlot::new(at(10, 0), at(10, 10)).is_err());
        assert!(TimeSlot::new(at(0, 0), at(13, 0)).is_err());
        assert!(TimeSlot::new(at(10, 0), at(10, 15)).is_ok());
    }

    #[test]
    fn back_to_back_visits_do_not_overlap() {
        assert!(!slot(8, 10).overlaps(&slot(10, 12)));
        assert!(slot(8, 10).overlaps(&slot(9, 11)));
    }

    #[test]
    fn capacity_counts_simultaneous_bookings_not_all_bookings_in_the_window() {
        let calendar = BookingCalendar {
            capacity: 2,
            ..BookingCalendar::default()
        };
        // Two bookings inside 8-12 that never overlap each other leave room for one more.
        let booked = [slot(8, 10), slot(10, 12)];
        assert!(calendar.fits(&slot(8, 12), &booked));
        let booked = [slot(8, 10), slot(9, 11)];
        assert!(!calendar.fits(&slot(8, 12), &booked));
    }

    #[test]
    fn a_day_has_back_to_back_slots_in_local_time() {
        let calendar = BookingCalendar::default();
        let date = NaiveDate::from_ymd_opt(2030, 6, 3).unwrap();
        let slots = calendar.slots_of(date);
        assert_eq!(slots.len(), 5);
        // 08:00 in Amsterdam in summer (CEST) is 06:00 UTC.
        assert_eq!(slots[0].starts_at(), at(6, 0));
        assert_eq!(slots[4].ends_at(), at(16, 0));
    }

    #[test]
    fn availability_subtracts_overlapping_bookings() {
        let calendar = BookingCalendar::default();
        let date = NaiveDate::from_ymd_opt(2030, 6, 3).unwrap();
        let free = calendar.availability(date, &[slot(6, 8)]);
        assert_eq!(free[0].remaining, 0);
        assert!(free[1..].iter().all(|s| s.remaining == 1));
    }
}
