//! Packet timestamps.
//!
//! Captures carry whatever clock the capturing machine had — some of the reference captures jump
//! years inside one file — so nothing downstream may assume timestamps are sane or monotonic. They
//! are evidence to quote, not a clock to trust.

use std::fmt;

/// Seconds and microseconds since the Unix epoch, as libpcap reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    pub secs: i64,
    pub micros: u32,
}

impl Timestamp {
    /// Normalises a `timeval` whose microseconds may be out of range (damaged files).
    pub fn from_timeval(secs: i64, micros: i64) -> Timestamp {
        // Every record of an undamaged file: no division (the read loop calls this per packet).
        if let Ok(micros @ 0..1_000_000) = u32::try_from(micros) {
            return Timestamp { secs, micros };
        }
        let extra_secs = micros.div_euclid(1_000_000);
        Timestamp {
            secs: secs.saturating_add(extra_secs),
            micros: micros.rem_euclid(1_000_000) as u32,
        }
    }

    pub fn as_secs_f64(self) -> f64 {
        self.secs as f64 + f64::from(self.micros) / 1e6
    }
}

/// RFC 3339 in UTC with microseconds, e.g. `2020-04-02T15:00:00.000125Z`.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rfc3339() {
            Some(text) => f.write_str(text.as_str()),
            None => {
                let days = self.secs.div_euclid(86_400);
                let secs_of_day = self.secs.rem_euclid(86_400);
                let (year, month, day) = civil_from_days(days);
                write!(
                    f,
                    "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
                    secs_of_day / 3600,
                    secs_of_day / 60 % 60,
                    secs_of_day % 60,
                    self.micros
                )
            }
        }
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.rfc3339() {
            Some(text) => serializer.serialize_str(text.as_str()),
            None => serializer.collect_str(self),
        }
    }
}

/// A formatted timestamp on the stack.
pub struct Rfc3339([u8; 27]);

impl Rfc3339 {
    /// The text's bytes: digits and separators, nothing a JSON string would escape.
    pub fn as_bytes(&self) -> &[u8; 27] {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits and separators are ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl Timestamp {
    /// The RFC 3339 text for years 0–9999, written digit pair by digit pair: reports print two or three
    /// timestamps per flow, and `write!` with padded fields cost more than the rest of a flow's
    /// JSON. Other years (only in damaged captures) take the general `Display` path.
    pub fn rfc3339(&self) -> Option<Rfc3339> {
        let days = self.secs.div_euclid(86_400);
        let secs_of_day = self.secs.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        let year = u32::try_from(year).ok().filter(|y| *y <= 9999)?;
        let mut out = *b"0000-00-00T00:00:00.000000Z";
        // Two digits at a time from a table: a division by 100 instead of two by 10.
        let mut pair = |at: usize, value: u32| {
            let at_table = 2 * (value % 100) as usize;
            out[at..at + 2].copy_from_slice(&DIGIT_PAIRS[at_table..at_table + 2]);
        };
        pair(0, year / 100);
        pair(2, year);
        pair(5, month);
        pair(8, day);
        pair(11, secs_of_day / 3600);
        pair(14, secs_of_day / 60 % 60);
        pair(17, secs_of_day % 60);
        let micros = self.micros.min(999_999);
        pair(20, micros / 10_000);
        pair(22, micros / 100);
        pair(24, micros);
        Some(Rfc3339(out))
    }
}

/// "00", "01", … "99", back to back.
const DIGIT_PAIRS: &[u8; 200] = b"\
    0001020304050607080910111213141516171819\
    2021222324252627282930313233343536373839\
    4041424344454647484950515253545556575859\
    6061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899";

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        let t = Timestamp::from_timeval(1_585_839_600, 125);
        assert_eq!(t.to_string(), "2020-04-02T15:00:00.000125Z");
        assert_eq!(
            Timestamp::default().to_string(),
            "1970-01-01T00:00:00.000000Z"
        );
        assert_eq!(
            Timestamp::from_timeval(951_782_400, 0).to_string(),
            "2000-02-29T00:00:00.000000Z"
        );
    }

    #[test]
    fn normalises_out_of_range_micros() {
        let t = Timestamp::from_timeval(10, 2_500_000);
        assert_eq!((t.secs, t.micros), (12, 500_000));
        let t = Timestamp::from_timeval(10, -1);
        assert_eq!((t.secs, t.micros), (9, 999_999));
        // Either side of the range the division-free path takes.
        for (micros, want) in [
            (0, (10, 0)),
            (999_999, (10, 999_999)),
            (1_000_000, (11, 0)),
            (i64::from(u32::MAX) + 1, (4_304, 967_296)),
        ] {
            let t = Timestamp::from_timeval(10, micros);
            assert_eq!((t.secs, t.micros), want, "{micros}");
        }
    }

    #[test]
    fn pre_epoch_times_do_not_panic() {
        assert_eq!(
            Timestamp::from_timeval(-86_400, 0).to_string(),
            "1969-12-31T00:00:00.000000Z"
        );
        let _ = Timestamp::from_timeval(i64::MIN, i64::MIN).to_string();
    }

    #[test]
    fn years_outside_four_digits_take_the_general_path() {
        let far = Timestamp::from_timeval(400_000_000_000, 7);
        assert!(far.rfc3339().is_none());
        assert_eq!(far.to_string(), "14645-06-30T15:06:40.000007Z");
    }

    proptest::proptest! {
        /// The digit-pair writer prints what the padded `write!` would.
        #[test]
        fn fast_text_matches_the_padded_format(secs in -62_167_219_200i64..253_402_300_800, micros in 0i64..1_000_000) {
            let t = Timestamp::from_timeval(secs, micros);
            let days = t.secs.div_euclid(86_400);
            let secs_of_day = t.secs.rem_euclid(86_400);
            let (year, month, day) = civil_from_days(days);
            let expected = format!(
                "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
                secs_of_day / 3600,
                secs_of_day / 60 % 60,
                secs_of_day % 60,
                t.micros
            );
            let fast = t.rfc3339().unwrap();
            proptest::prop_assert_eq!(fast.as_str(), expected.as_str());
        }
    }
}
