//! Texts of the pages in Dutch (default) and English, from `locales/*.ftl` (Fluent).

use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

/// A language of the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Nl,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Nl => "nl",
            Lang::En => "en",
        }
    }
    pub fn from_code(code: &str) -> Lang {
        if code.starts_with("en") {
            Lang::En
        } else {
            Lang::Nl
        }
    }
    pub fn other(self) -> Lang {
        match self {
            Lang::Nl => Lang::En,
            Lang::En => Lang::Nl,
        }
    }
}

fn bundle(lang: Lang) -> &'static FluentBundle<FluentResource> {
    static NL: OnceLock<FluentBundle<FluentResource>> = OnceLock::new();
    static EN: OnceLock<FluentBundle<FluentResource>> = OnceLock::new();
    let (cell, src, id) = match lang {
        Lang::Nl => (
            &NL,
            include_str!("../../locales/nl.ftl"),
            unic_langid::langid!("nl"),
        ),
        Lang::En => (
            &EN,
            include_str!("../../locales/en.ftl"),
            unic_langid::langid!("en"),
        ),
    };
    cell.get_or_init(|| {
        let res = FluentResource::try_new(src.to_string()).expect("the locale files parse");
        let mut b = FluentBundle::new_concurrent(vec![id]);
        b.set_use_isolating(false);
        b.add_resource(res).expect("no duplicate messages");
        b
    })
}

/// The texts of one language, for templates: `t.get("key")`.
#[derive(Debug, Clone, Copy)]
pub struct Texts {
    pub lang: Lang,
}

impl Texts {
    pub fn get(&self, key: &str) -> String {
        self.format(key, None)
    }

    /// A message with arguments (`{ $name }` in the `.ftl` files): `t.with("key", &[("name",
    /// "Jan")])`. Numbers given as text are placed as text.
    pub fn with(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut a = FluentArgs::new();
        for (k, v) in args {
            a.set(*k, FluentValue::from(v.to_string()));
        }
        self.format(key, Some(&a))
    }

    /// A message with one argument, for templates: `t.arg("key", "name", value)`.
    pub fn arg(&self, key: &str, name: &str, value: &str) -> String {
        self.with(key, &[(name, value)])
    }

    /// A message with two arguments, for templates.
    pub fn arg2(&self, key: &str, n1: &str, v1: &str, n2: &str, v2: &str) -> String {
        self.with(key, &[(n1, v1), (n2, v2)])
    }

    /// A share as a percentage in the reader's notation: `97,5 %` in Dutch (decimal comma, a
    /// non-breaking space before the sign), `97.5%` in English.
    pub fn percent(&self, share: f64, decimals: usize) -> String {
        let n = format!("{:.*}", decimals, share * 100.0);
        match self.lang {
            Lang::Nl => format!("{}\u{a0}%", n.replace('.', ",")),
            _ => format!("{n}%"),
        }
    }

    /// A message with a number argument, for plural forms (`{ $count -> [one] … *[other] … }`).
    pub fn count(&self, key: &str, name: &str, n: i64, args: &[(&str, &str)]) -> String {
        let mut a = FluentArgs::new();
        a.set(name, FluentValue::from(n));
        for (k, v) in args {
            a.set(*k, FluentValue::from(v.to_string()));
        }
        self.format(key, Some(&a))
    }

    fn format(&self, key: &str, args: Option<&FluentArgs>) -> String {
        let b = bundle(self.lang);
        let Some(pattern) = b.get_message(key).and_then(|m| m.value()) else {
            tracing::error!(key, "a page asked for a text that the locale files lack");
            return key.to_string();
        };
        let mut errors = vec![];
        let out = b.format_pattern(pattern, args, &mut errors).into_owned();
        if !errors.is_empty() {
            tracing::error!(key, ?errors, "a text could not be formatted");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_have_every_message() {
        let keys = |src: &str| -> Vec<String> {
            src.lines()
                .filter_map(|l| l.split_once(" = ").map(|(k, _)| k.trim().to_string()))
                .collect()
        };
        let nl = keys(include_str!("../../locales/nl.ftl"));
        let en = keys(include_str!("../../locales/en.ftl"));
        assert_eq!(nl, en, "the same keys in the same order");
        for k in &nl {
            assert_ne!(Texts { lang: Lang::Nl }.get(k), *k);
            assert_ne!(Texts { lang: Lang::En }.get(k), *k);
        }
    }

    #[test]
    fn percentages_are_written_as_the_reader_writes_them() {
        assert_eq!(Texts { lang: Lang::Nl }.percent(0.975, 1), "97,5\u{a0}%");
        assert_eq!(Texts { lang: Lang::En }.percent(0.975, 1), "97.5%");
        assert_eq!(Texts { lang: Lang::Nl }.percent(0.95, 0), "95\u{a0}%");
    }
}
