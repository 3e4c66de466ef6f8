//! The Dutch citizen service number (burgerservicenummer, BSN).
//!
//! A [`Bsn`] can only hold a number that passes the eleven test; its `Debug` and `Display` never
//! print the number, so it cannot leak into logs, errors or panics.

use std::fmt;

/// Identifier system of the BSN.
pub const BSN_SYSTEM: &str = "http://fhir.nl/fhir/NamingSystem/bsn";

/// A valid BSN. Read the digits only with [`Bsn::expose`], where they are truly needed.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Bsn(String);

/// Why a text is not a BSN. Never includes the text itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BsnError {
    #[error("a BSN has exactly 9 digits")]
    Length,
    #[error("a BSN contains digits only")]
    NotDigits,
    #[error("the number does not pass the eleven test (elfproef)")]
    ElevenTest,
}

impl Bsn {
    /// Parses a BSN, checking length, digits and the eleven test.
    pub fn parse(text: &str) -> Result<Bsn, BsnError> {
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BsnError::NotDigits);
        }
        if text.len() != 9 {
            return Err(BsnError::Length);
        }
        if !passes_eleven_test(text) {
            return Err(BsnError::ElevenTest);
        }
        Ok(Bsn(text.to_string()))
    }

    /// The digits. Callers must not log or display them.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// 9·d1 + 8·d2 + … + 2·d8 − 1·d9 ≡ 0 (mod 11), for a 9-digit string.
pub fn passes_eleven_test(digits: &str) -> bool {
    let d: Vec<i64> = digits.bytes().map(|b| (b - b'0') as i64).collect();
    if d.len() != 9 {
        return false;
    }
    let sum: i64 = (0..8).map(|i| (9 - i as i64) * d[i]).sum::<i64>() - d[8];
    sum % 11 == 0 && d.iter().any(|x| *x != 0)
}

impl fmt::Debug for Bsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Bsn(<redacted>)")
    }
}

impl fmt::Display for Bsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<BSN>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_valid_and_invalid_numbers() {
        assert!(Bsn::parse("999990019").is_ok());
        assert!(Bsn::parse("111222333").is_ok());
        assert_eq!(Bsn::parse("123456789"), Err(BsnError::ElevenTest));
        assert_eq!(Bsn::parse("12345678"), Err(BsnError::Length));
        assert_eq!(Bsn::parse("12345678a"), Err(BsnError::NotDigits));
        assert_eq!(Bsn::parse("000000000"), Err(BsnError::ElevenTest));
    }

    #[test]
    fn never_prints_its_digits() {
        let b = Bsn::parse("999990019").unwrap();
        assert!(!format!("{b:?} {b}").contains("99999"));
    }
}
