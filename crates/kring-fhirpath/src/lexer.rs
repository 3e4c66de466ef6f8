//! Turns FHIRPath source text into tokens.

use crate::{FhirPathError, Result};

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Ident(String),
    /// A `backtick`-delimited identifier.
    Delimited(String),
    Str(String),
    Num(String),
    /// `@2020-01-01`, `@2020-01-01T10:00`, `@T10:00`
    DateTime(String),
    /// `%name`
    Env(String),
    Op(&'static str),
    Eof,
}

pub struct Token {
    pub tok: Tok,
    pub pos: usize,
}

const OPS: [&str; 22] = [
    "<=", ">=", "!=", "!~", "(", ")", "[", "]", "{", "}", ".", ",", "+", "-", "*", "/", "&", "|",
    "<", ">", "=", "~",
];

pub fn lex(src: &str) -> Result<Vec<Token>> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |pos: usize, msg: &str| FhirPathError::Syntax {
        pos,
        msg: msg.to_string(),
    };
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
            continue;
        }
        let start = i;
        if c == '\'' || c == '`' {
            let quote = c;
            i += 1;
            let mut s = String::new();
            loop {
                let Some(&ch) = chars.get(i) else {
                    return Err(err(start, "unterminated string"));
                };
                i += 1;
                if ch == quote {
                    break;
                }
                if ch == '\\' {
                    let Some(&esc) = chars.get(i) else {
                        return Err(err(start, "unterminated escape"));
                    };
                    i += 1;
                    match esc {
                        'n' => s.push('\n'),
                        't' => s.push('\t'),
                        'r' => s.push('\r'),
                        'f' => s.push('\u{c}'),
                        'u' => {
                            let hex: String = chars.iter().skip(i).take(4).collect();
                            let code = u32::from_str_radix(&hex, 16)
                                .map_err(|_| err(i, "bad unicode escape"))?;
                            s.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                            i += 4;
                        }
                        other => s.push(other),
                    }
                } else {
                    s.push(ch);
                }
            }
            out.push(Token {
                tok: if quote == '\'' {
                    Tok::Str(s)
                } else {
                    Tok::Delimited(s)
                },
                pos: start,
            });
            continue;
        }
        if c == '@' {
            i += 1;
            // Digits and the separators of dates and times; a '.' only when a digit follows
            // (fractional seconds), so `@2015.is(Date)` ends the literal at the dot.
            while i < chars.len() {
                let ch = chars[i];
                let fraction = ch == '.' && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit());
                if ch.is_ascii_digit() || matches!(ch, '-' | ':' | '+' | 'Z' | 'T') || fraction {
                    i += 1;
                } else {
                    break;
                }
            }
            let text: String = chars[start + 1..i].iter().collect();
            out.push(Token {
                tok: Tok::DateTime(text),
                pos: start,
            });
            continue;
        }
        if c == '%' {
            i += 1;
            if chars.get(i) == Some(&'`') || chars.get(i) == Some(&'\'') {
                let q = chars[i];
                i += 1;
                let s0 = i;
                while i < chars.len() && chars[i] != q {
                    i += 1;
                }
                let name: String = chars[s0..i.min(chars.len())].iter().collect();
                i += 1;
                out.push(Token {
                    tok: Tok::Env(name),
                    pos: start,
                });
            } else {
                let s0 = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '-')
                {
                    i += 1;
                }
                out.push(Token {
                    tok: Tok::Env(chars[s0..i].iter().collect()),
                    pos: start,
                });
            }
            continue;
        }
        if c.is_ascii_digit() {
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            if i + 1 < chars.len() && chars[i] == '.' && chars[i + 1].is_ascii_digit() {
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
            }
            // Long suffix `L` (FHIRPath 2.0) is accepted and ignored.
            if i < chars.len() && chars[i] == 'L' {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Num(
                    chars[start..i]
                        .iter()
                        .collect::<String>()
                        .trim_end_matches('L')
                        .to_string(),
                ),
                pos: start,
            });
            continue;
        }
        if c.is_alphabetic() || c == '_' || c == '$' {
            i += 1;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Ident(chars[start..i].iter().collect()),
                pos: start,
            });
            continue;
        }
        let rest: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        if let Some(op) = OPS.iter().find(|op| rest.starts_with(**op)) {
            i += op.chars().count();
            out.push(Token {
                tok: Tok::Op(op),
                pos: start,
            });
            continue;
        }
        return Err(err(i, &format!("unexpected character '{c}'")));
    }
    out.push(Token {
        tok: Tok::Eof,
        pos: chars.len(),
    });
    Ok(out)
}
