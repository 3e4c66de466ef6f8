//! Normalisation of text for string search: case-folded, accents removed, as FHIR asks
//! (`Müller` finds `muller`, `Çelik` finds `celik`).

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Lower-cases and strips combining marks and surrounding whitespace.
pub fn normalize(s: &str) -> String {
    s.nfd()
        .filter(|c| !is_combining_mark(*c))
        .collect::<String>()
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn folds_case_and_accents() {
        assert_eq!(super::normalize("  Müller-Çelik "), "muller-celik");
        assert_eq!(super::normalize("Ëlif  de Vries"), "elif de vries");
    }
}
