//! Value types of FHIR primitives that JSON or Rust cannot hold faithfully by themselves:
//! decimals keep their exact text (`1.50` stays `1.50`), and dates, dateTimes, instants
//! and times keep their precision and time zone exactly as written.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;

/// A FHIR `decimal`: the number exactly as written in the JSON.
///
/// FHIR requires decimals to keep their precision (`1.50` is not `1.5`), so the text is
/// kept rather than converted to a float. [`Decimal::to_f64`] converts when arithmetic is
/// needed.
#[derive(Clone)]
pub struct Decimal(Box<RawValue>);

impl Decimal {
    /// Parses a decimal in FHIR's JSON syntax (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`).
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        if !is_json_number(text) {
            return Err(ValueError::new("decimal", text));
        }
        RawValue::from_string(text.to_owned())
            .map(Self)
            .map_err(|_| ValueError::new("decimal", text))
    }

    /// The decimal's text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// The value as a float (may round).
    #[must_use]
    pub fn to_f64(&self) -> f64 {
        self.as_str().parse().unwrap_or(f64::NAN)
    }
}

impl PartialEq for Decimal {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl fmt::Debug for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Decimal({})", self.as_str())
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Decimal {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        Self::parse(s)
    }
}

/// Checks JSON number syntax (RFC 8259 §6), which is also FHIR's decimal syntax.
fn is_json_number(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == b.len()
}

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        if is_json_number(raw.get()) {
            Ok(Self(raw))
        } else {
            Err(de::Error::custom(format!(
                "expected a decimal number, found {}",
                raw.get()
            )))
        }
    }
}

impl Serialize for Decimal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// A value that is not valid for its FHIR primitive type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid FHIR {kind}: {text:?}")]
pub struct ValueError {
    /// The primitive type, e.g. `date`.
    pub kind: &'static str,
    /// The rejected text.
    pub text: String,
}

impl ValueError {
    fn new(kind: &'static str, text: &str) -> Self {
        Self {
            kind,
            text: text.to_owned(),
        }
    }
}

/// How precisely a date or time was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Precision {
    /// `2024`
    Year,
    /// `2024-05`
    Month,
    /// `2024-05-17`
    Day,
    /// `2024-05-17T10:30:00+05:00` (seconds given, no fraction)
    Second,
    /// A fraction of a second was given.
    Fraction,
}

/// The parts of a FHIR date, dateTime or instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateParts {
    /// Year.
    pub year: u16,
    /// Month 1–12, if given.
    pub month: Option<u8>,
    /// Day of month, if given.
    pub day: Option<u8>,
    /// Time of day, if given.
    pub time: Option<TimeParts>,
    /// Offset from UTC in minutes, if a time was given (`Z` is 0).
    pub offset_minutes: Option<i16>,
    /// How precisely the value was given.
    pub precision: Precision,
}

/// A time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeParts {
    /// Hour 0–23.
    pub hour: u8,
    /// Minute.
    pub minute: u8,
    /// Second (60 allowed for a leap second).
    pub second: u8,
    /// Nanoseconds of the fraction, if given.
    pub nanos: Option<u32>,
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<u32> {
        let slice = self.b.get(self.i..self.i + n)?;
        if !slice.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.i += n;
        Some(
            slice
                .iter()
                .fold(0, |acc, d| acc * 10 + u32::from(d - b'0')),
        )
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn done(&self) -> bool {
        self.i == self.b.len()
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn parse_time(c: &mut Cursor<'_>) -> Option<TimeParts> {
    let hour = c.digits(2)?;
    if !c.eat(b':') {
        return None;
    }
    let minute = c.digits(2)?;
    if !c.eat(b':') {
        return None;
    }
    let second = c.digits(2)?;
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let nanos = if c.eat(b'.') {
        let start = c.i;
        while c.b.get(c.i).is_some_and(u8::is_ascii_digit) {
            c.i += 1;
        }
        let frac = &c.b[start..c.i];
        if frac.is_empty() {
            return None;
        }
        let mut nanos = 0u32;
        for k in 0..9 {
            nanos = nanos * 10 + frac.get(k).map_or(0, |d| u32::from(d - b'0'));
        }
        Some(nanos)
    } else {
        None
    };
    Some(TimeParts {
        hour: u8::try_from(hour).ok()?,
        minute: u8::try_from(minute).ok()?,
        second: u8::try_from(second).ok()?,
        nanos,
    })
}

fn parse_offset(c: &mut Cursor<'_>) -> Option<i16> {
    if c.eat(b'Z') {
        return Some(0);
    }
    let sign: i16 = if c.eat(b'+') {
        1
    } else if c.eat(b'-') {
        -1
    } else {
        return None;
    };
    let h = c.digits(2)?;
    if !c.eat(b':') {
        return None;
    }
    let m = c.digits(2)?;
    if m > 59 || h > 14 || (h == 14 && m != 0) {
        return None;
    }
    Some(sign * i16::try_from(h * 60 + m).ok()?)
}

/// Parses `YYYY[-MM[-DD[Thh:mm:ss[.f+](Z|±hh:mm)]]]`; `allow_time` and `require_time`
/// select date, dateTime or instant.
fn parse_date_time(text: &str, allow_time: bool, require_time: bool) -> Option<DateParts> {
    let mut c = Cursor {
        b: text.as_bytes(),
        i: 0,
    };
    let year = u16::try_from(c.digits(4)?).ok()?;
    if year == 0 {
        return None;
    }
    let mut parts = DateParts {
        year,
        month: None,
        day: None,
        time: None,
        offset_minutes: None,
        precision: Precision::Year,
    };
    if c.eat(b'-') {
        let month = u8::try_from(c.digits(2)?).ok()?;
        if !(1..=12).contains(&month) {
            return None;
        }
        parts.month = Some(month);
        parts.precision = Precision::Month;
        if c.eat(b'-') {
            let day = u8::try_from(c.digits(2)?).ok()?;
            if day == 0 || day > days_in_month(year, month) {
                return None;
            }
            parts.day = Some(day);
            parts.precision = Precision::Day;
            if allow_time && c.eat(b'T') {
                let time = parse_time(&mut c)?;
                parts.precision = if time.nanos.is_some() {
                    Precision::Fraction
                } else {
                    Precision::Second
                };
                parts.time = Some(time);
                parts.offset_minutes = Some(parse_offset(&mut c)?);
            }
        }
    }
    if require_time && parts.time.is_none() {
        return None;
    }
    c.done().then_some(parts)
}

macro_rules! text_value {
    ($(#[$doc:meta])* $name:ident, $kind:literal, |$text:ident| $check:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Parses and checks the text.
            pub fn parse(text: impl Into<String>) -> Result<Self, ValueError> {
                let text = text.into();
                let ok = {
                    let $text: &str = &text;
                    $check
                };
                if ok { Ok(Self(text)) } else { Err(ValueError { kind: $kind, text }) }
            }

            /// The value exactly as written.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = ValueError;
            fn from_str(s: &str) -> Result<Self, ValueError> {
                Self::parse(s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = ValueError;
            fn try_from(s: &str) -> Result<Self, ValueError> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        write!(f, "a FHIR {} string", $kind)
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$name, E> {
                        $name::parse(v).map_err(E::custom)
                    }
                    fn visit_string<E: de::Error>(self, v: String) -> Result<$name, E> {
                        $name::parse(v).map_err(E::custom)
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

text_value!(
    /// A FHIR `date`: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`, precision kept.
    Date, "date", |t| parse_date_time(t, false, false).is_some()
);
text_value!(
    /// A FHIR `dateTime`: a date, or a date and time with a time zone, precision kept.
    DateTime, "dateTime", |t| parse_date_time(t, true, false).is_some()
);
text_value!(
    /// A FHIR `instant`: a date and time to the second or finer, with a time zone.
    Instant, "instant", |t| parse_date_time(t, true, true).is_some()
);
text_value!(
    /// A FHIR `time`: `hh:mm:ss[.fraction]`, a time of day without a time zone.
    Time, "time", |t| {
        let mut c = Cursor { b: t.as_bytes(), i: 0 };
        parse_time(&mut c).is_some() && c.done()
    }
);

impl Date {
    /// The date's parts and precision.
    #[must_use]
    pub fn parts(&self) -> DateParts {
        // Checked on construction.
        parse_date_time(&self.0, false, false).unwrap_or(UNREACHABLE_PARTS)
    }
}

impl DateTime {
    /// The dateTime's parts and precision.
    #[must_use]
    pub fn parts(&self) -> DateParts {
        parse_date_time(&self.0, true, false).unwrap_or(UNREACHABLE_PARTS)
    }
}

impl Instant {
    /// The instant's parts.
    #[must_use]
    pub fn parts(&self) -> DateParts {
        parse_date_time(&self.0, true, true).unwrap_or(UNREACHABLE_PARTS)
    }
}

const UNREACHABLE_PARTS: DateParts = DateParts {
    year: 1,
    month: None,
    day: None,
    time: None,
    offset_minutes: None,
    precision: Precision::Year,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_keep_their_text() {
        for ok in [
            "0",
            "1.50",
            "-0.0",
            "1e2",
            "3.0E-10",
            "123456789012345678901234567890.000",
        ] {
            assert_eq!(Decimal::parse(ok).unwrap().as_str(), ok);
        }
        for bad in ["", "01", "1.", ".5", "+1", "1e", "NaN", "1,5"] {
            assert!(Decimal::parse(bad).is_err(), "{bad}");
        }
        let d: Decimal = serde_json::from_str("1.50").unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), "1.50");
        assert!(serde_json::from_str::<Decimal>("\"1.5\"").is_err());
    }

    #[test]
    fn dates_keep_precision_and_reject_impossible_dates() {
        assert_eq!(
            Date::parse("2024").unwrap().parts().precision,
            Precision::Year
        );
        assert_eq!(Date::parse("2024-02-29").unwrap().parts().day, Some(29));
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-00",
            "24",
            "2024-1-01",
            "0000",
            "2024-05-17T10:00:00Z",
        ] {
            assert!(Date::parse(bad).is_err(), "{bad}");
        }
        let dt = DateTime::parse("2024-05-17T10:30:00.120-05:00")
            .unwrap()
            .parts();
        assert_eq!(
            (dt.precision, dt.offset_minutes),
            (Precision::Fraction, Some(-300))
        );
        assert_eq!(dt.time.unwrap().nanos, Some(120_000_000));
        assert!(
            DateTime::parse("2024-05-17T10:30:00").is_err(),
            "a time needs a zone"
        );
        assert!(
            DateTime::parse("2024-05-17T10:30Z").is_err(),
            "seconds are required"
        );
        assert!(Instant::parse("2024-05-17").is_err());
        assert!(Instant::parse("2024-05-17T10:30:00Z").is_ok());
        assert!(Time::parse("23:59:60.5").is_ok());
        assert!(Time::parse("24:00:00").is_err());
    }
}
