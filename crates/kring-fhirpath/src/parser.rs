//! A precedence-climbing parser from tokens to [`Expr`].

use crate::ast::Expr;
use crate::lexer::{lex, Tok, Token};
use crate::value::Primitive;
use crate::{FhirPathError, Result};

pub fn parse(src: &str) -> Result<Expr> {
    let toks = lex(src)?;
    let mut p = Parser { toks, i: 0 };
    let e = p.expr(0)?;
    if p.peek() != &Tok::Eof {
        return Err(p.err("unexpected input after expression"));
    }
    Ok(e)
}

struct Parser {
    toks: Vec<Token>,
    i: usize,
}

/// Binary operators with their binding power (higher binds tighter).
fn infix(tok: &Tok) -> Option<(&'static str, u8)> {
    Some(match tok {
        Tok::Ident(s) => match s.as_str() {
            "implies" => ("implies", 1),
            "or" => ("or", 2),
            "xor" => ("xor", 2),
            "and" => ("and", 3),
            "in" => ("in", 4),
            "contains" => ("contains", 4),
            "is" => ("is", 8),
            "as" => ("as", 8),
            "div" => ("div", 10),
            "mod" => ("mod", 10),
            _ => return None,
        },
        Tok::Op(op) => match *op {
            "=" | "~" | "!=" | "!~" => (*op, 5),
            "<" | ">" | "<=" | ">=" => (*op, 6),
            "|" => ("|", 7),
            "+" | "-" | "&" => (*op, 9),
            "*" | "/" => (*op, 10),
            _ => return None,
        },
        _ => return None,
    })
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.i].tok
    }
    fn next(&mut self) -> Tok {
        let t = self.toks[self.i].tok.clone();
        if self.i + 1 < self.toks.len() {
            self.i += 1;
        }
        t
    }
    fn err(&self, msg: &str) -> FhirPathError {
        FhirPathError::Syntax {
            pos: self.toks[self.i].pos,
            msg: msg.to_string(),
        }
    }
    fn expect(&mut self, op: &str) -> Result<()> {
        if self.peek() == &Tok::Op(leak(op)) {
            self.next();
            Ok(())
        } else {
            Err(self.err(&format!("expected '{op}'")))
        }
    }

    fn expr(&mut self, min_bp: u8) -> Result<Expr> {
        let mut lhs = self.unary()?;
        while let Some((op, bp)) = infix(self.peek()) {
            // Left associative: an operator binds here only when tighter than the caller's.
            if bp <= min_bp {
                break;
            }
            self.next();
            if op == "is" || op == "as" {
                let ty = self.type_specifier()?;
                lhs = Expr::TypeOp(op, Box::new(lhs), ty);
                continue;
            }
            let rhs = self.expr(bp)?;
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn type_specifier(&mut self) -> Result<String> {
        let mut name = self.identifier()?;
        while self.peek() == &Tok::Op(".") {
            self.next();
            name.push('.');
            name.push_str(&self.identifier()?);
        }
        Ok(name)
    }

    fn identifier(&mut self) -> Result<String> {
        match self.next() {
            Tok::Ident(s) | Tok::Delimited(s) => Ok(s),
            _ => Err(self.err("expected an identifier")),
        }
    }

    fn unary(&mut self) -> Result<Expr> {
        if let Tok::Op(op @ ("+" | "-")) = self.peek().clone() {
            self.next();
            let inner = self.unary()?;
            return Ok(match (op, inner) {
                ("-", Expr::Literal(Primitive::Integer(n))) => {
                    Expr::Literal(Primitive::Integer(-n))
                }
                ("-", Expr::Literal(Primitive::Decimal(d))) => {
                    Expr::Literal(Primitive::Decimal(-d))
                }
                ("-", Expr::Quantity(v, u)) => Expr::Quantity(-v, u),
                ("+", e) => e,
                (op, e) => Expr::Unary(op, Box::new(e)),
            });
        }
        let mut e = self.term()?;
        loop {
            match self.peek() {
                Tok::Op(".") => {
                    self.next();
                    let name = self.identifier()?;
                    if self.peek() == &Tok::Op("(") {
                        let args = self.args()?;
                        e = Expr::Call(Some(Box::new(e)), name, args);
                    } else {
                        e = Expr::Member(Box::new(e), name);
                    }
                }
                Tok::Op("[") => {
                    self.next();
                    let idx = self.expr(0)?;
                    self.expect("]")?;
                    e = Expr::Index(Box::new(e), Box::new(idx));
                }
                _ => break,
            }
        }
        Ok(e)
    }

    fn args(&mut self) -> Result<Vec<Expr>> {
        self.expect("(")?;
        let mut args = Vec::new();
        if self.peek() == &Tok::Op(")") {
            self.next();
            return Ok(args);
        }
        loop {
            args.push(self.expr(0)?);
            match self.next() {
                Tok::Op(",") => continue,
                Tok::Op(")") => break,
                _ => return Err(self.err("expected ',' or ')'")),
            }
        }
        Ok(args)
    }

    fn term(&mut self) -> Result<Expr> {
        match self.next() {
            Tok::Op("(") => {
                let e = self.expr(0)?;
                self.expect(")")?;
                Ok(e)
            }
            Tok::Op("{") => {
                self.expect("}")?;
                Ok(Expr::Empty)
            }
            Tok::Str(s) => Ok(Expr::Literal(Primitive::String(s))),
            Tok::Num(n) => {
                let lit = if n.contains('.') {
                    Primitive::Decimal(n.parse().map_err(|_| self.err("bad number"))?)
                } else {
                    Primitive::Integer(n.parse().map_err(|_| self.err("bad number"))?)
                };
                // A quantity: number followed by a unit string or a calendar duration keyword.
                match self.peek().clone() {
                    Tok::Str(unit) => {
                        self.next();
                        Ok(Expr::Quantity(lit.as_f64(), unit))
                    }
                    Tok::Ident(word) if calendar_unit(&word).is_some() => {
                        self.next();
                        Ok(Expr::Quantity(
                            lit.as_f64(),
                            calendar_unit(&word).unwrap_or_default().to_string(),
                        ))
                    }
                    _ => Ok(Expr::Literal(lit)),
                }
            }
            Tok::DateTime(text) => {
                literal_datetime(&text).ok_or_else(|| self.err("bad date/time literal"))
            }
            Tok::Env(name) => Ok(Expr::Env(name)),
            Tok::Delimited(name) => Ok(Expr::Ident(name)),
            Tok::Ident(name) => match name.as_str() {
                "true" => Ok(Expr::Literal(Primitive::Boolean(true))),
                "false" => Ok(Expr::Literal(Primitive::Boolean(false))),
                "$this" | "$index" | "$total" => Ok(Expr::Special(name)),
                _ if self.peek() == &Tok::Op("(") => {
                    let args = self.args()?;
                    Ok(Expr::Call(None, name, args))
                }
                _ => Ok(Expr::Ident(name)),
            },
            Tok::Op("$") => Err(self.err("unexpected '$'")),
            _ => Err(self.err("expected an expression")),
        }
    }
}

fn calendar_unit(word: &str) -> Option<&'static str> {
    Some(match word {
        "year" | "years" => "year",
        "month" | "months" => "month",
        "week" | "weeks" => "week",
        "day" | "days" => "day",
        "hour" | "hours" => "hour",
        "minute" | "minutes" => "minute",
        "second" | "seconds" => "second",
        "millisecond" | "milliseconds" => "millisecond",
        _ => return None,
    })
}

fn literal_datetime(text: &str) -> Option<Expr> {
    if let Some(t) = text.strip_prefix('T') {
        return Some(Expr::Literal(Primitive::Time(t.to_string())));
    }
    if text.contains('T') {
        let t = text.trim_end_matches('T');
        if t.len() < text.len() {
            return Some(Expr::Literal(Primitive::DateTime(t.to_string())));
        }
        return Some(Expr::Literal(Primitive::DateTime(text.to_string())));
    }
    Some(Expr::Literal(Primitive::Date(text.to_string())))
}

/// `$` is lexed as part of identifiers; this maps an operator string to its static form.
fn leak(op: &str) -> &'static str {
    match op {
        "(" => "(",
        ")" => ")",
        "]" => "]",
        "}" => "}",
        _ => "?",
    }
}
