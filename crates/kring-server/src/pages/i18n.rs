//! Texts of the pages in Dutch (default) and English, from `locales/*.ftl` (Fluent).

use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::FluentResource;

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
        let b = bundle(self.lang);
        let Some(pattern) = b.get_message(key).and_then(|m| m.value()) else {
            return key.to_string();
        };
        let mut errors = vec![];
        b.format_pattern(pattern, None, &mut errors).into_owned()
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
}
