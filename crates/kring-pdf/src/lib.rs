//! The PDFs Kring prints, in the PDF base fonts (Helvetica), A4: the text of a page as the
//! fonts encode it ([`win_ansi`]), and a flowing text document ([`Document`]: headings,
//! paragraphs that wrap, bullets, coloured bands, new pages when one is full) for documents
//! people print and carry, such as the crisis plan.
//!
//! Must never: hold data of its own — callers pass the text, already in the reader's words.

use pdf_writer::{Content, Name, Pdf, Rect, Ref, Str};

/// A4 in points.
pub const PAGE_WIDTH: f32 = 595.0;
pub const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 42.0;

/// Text in the encoding of the base fonts (WinAnsi): Dutch letters with accents as they are,
/// typographic quotes and dashes mapped, anything else as `?`.
pub fn win_ansi(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c {
            ' '..='~' => c as u8,
            '\u{a0}'..='\u{ff}' => c as u32 as u8,
            '€' => 0x80,
            '…' => 0x85,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            _ => b'?',
        })
        .collect()
}

/// The width of text in Helvetica at `size`, near enough to wrap lines by (the average
/// advance of Dutch text; wide letters are counted wider).
pub fn text_width(s: &str, size: f32) -> f32 {
    s.chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' | 'I' => 0.25,
            ' ' | 'f' | 't' | 'r' | '(' | ')' | '-' => 0.31,
            'm' | 'w' | 'M' | 'W' => 0.85,
            'A'..='Z' | '0'..='9' => 0.64,
            _ => 0.54,
        })
        .sum::<f32>()
        * size
}

/// Splits text into lines no wider than `width` at `size` (on spaces; a word longer than a
/// line is split where it must be).
pub fn wrap(text: &str, size: f32, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.lines() {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if text_width(&candidate, size) <= width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            let mut rest = word.to_string();
            while text_width(&rest, size) > width {
                let mut cut = rest.len();
                while cut > 1 && text_width(&rest[..cut], size) > width {
                    cut = rest[..cut - 1]
                        .char_indices()
                        .last()
                        .map(|(i, _)| i)
                        .unwrap_or(1)
                        .max(1);
                }
                lines.push(rest[..cut].to_string());
                rest = rest[cut..].to_string();
            }
            line = rest;
        }
        lines.push(line);
    }
    lines
}

/// A colour as red, green, blue from 0 to 1.
pub type Rgb = (f32, f32, f32);

/// A flowing A4 document: write from the top down, a new page begins when one is full.
pub struct Document {
    pages: Vec<Content>,
    y: f32,
    footer: String,
}

impl Document {
    /// A document whose every page carries `footer` at the bottom.
    pub fn new(footer: &str) -> Document {
        Document {
            pages: vec![Content::new()],
            y: PAGE_HEIGHT - MARGIN,
            footer: footer.to_string(),
        }
    }

    fn content(&mut self) -> &mut Content {
        self.pages.last_mut().expect("a document has a page")
    }

    /// Makes room for `height` points, beginning a new page when this one is too full.
    fn room(&mut self, height: f32) {
        if self.y - height < MARGIN + 20.0 {
            self.pages.push(Content::new());
            self.y = PAGE_HEIGHT - MARGIN;
        }
    }

    fn text_at(&mut self, x: f32, size: f32, bold: bool, s: &str) {
        let y = self.y;
        let c = self.content();
        c.begin_text();
        c.set_font(Name(if bold { b"F2" } else { b"F1" }), size);
        c.next_line(x, y);
        c.show(Str(&win_ansi(s)));
        c.end_text();
    }

    /// Text at `size`, wrapped to the page, indented by `indent`.
    fn flow(&mut self, text: &str, size: f32, bold: bool, indent: f32, prefix: Option<&str>) {
        let width = PAGE_WIDTH - 2.0 * MARGIN - indent;
        for (i, line) in wrap(text, size, width).iter().enumerate() {
            self.room(size * 1.3);
            self.y -= size * 1.3;
            if let (0, Some(p)) = (i, prefix) {
                self.text_at(MARGIN + indent - 9.0, size, false, p);
            }
            self.text_at(MARGIN + indent, size, bold, line);
        }
    }

    /// The document's title.
    pub fn title(&mut self, text: &str) {
        self.flow(text, 17.0, true, 0.0, None);
        self.y -= 4.0;
    }

    /// A heading; with `band`, a coloured band in front of it (a phase of a crisis plan).
    pub fn heading(&mut self, text: &str, band: Option<Rgb>) {
        self.room(30.0);
        self.y -= 8.0;
        if let Some((r, g, b)) = band {
            let y = self.y;
            let c = self.content();
            c.set_fill_rgb(r, g, b);
            c.rect(MARGIN, y - 16.0, 6.0, 16.0);
            c.fill_nonzero();
            c.set_fill_gray(0.0);
        }
        self.flow(
            text,
            12.5,
            true,
            if band.is_some() { 12.0 } else { 0.0 },
            None,
        );
    }

    /// A small bold line introducing what follows.
    pub fn label(&mut self, text: &str) {
        self.y -= 2.0;
        self.flow(text, 9.5, true, 12.0, None);
    }

    /// A paragraph.
    pub fn paragraph(&mut self, text: &str) {
        self.flow(text, 9.5, false, 0.0, None);
    }

    /// A bullet.
    pub fn bullet(&mut self, text: &str) {
        self.flow(text, 9.5, false, 24.0, Some("•"));
    }

    /// Space between parts.
    pub fn space(&mut self, points: f32) {
        self.y -= points;
    }

    /// The PDF.
    pub fn finish(self) -> Vec<u8> {
        let catalog = Ref::new(1);
        let tree = Ref::new(2);
        let font = Ref::new(3);
        let bold = Ref::new(4);
        let n = self.pages.len();
        let page_refs: Vec<Ref> = (0..n).map(|i| Ref::new(5 + 2 * i as i32)).collect();
        let mut pdf = Pdf::new();
        pdf.catalog(catalog).pages(tree);
        pdf.pages(tree)
            .kids(page_refs.iter().copied())
            .count(n as i32);
        pdf.type1_font(font)
            .base_font(Name(b"Helvetica"))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
        pdf.type1_font(bold)
            .base_font(Name(b"Helvetica-Bold"))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
        for (i, mut content) in self.pages.into_iter().enumerate() {
            let page_ref = page_refs[i];
            let content_ref = Ref::new(6 + 2 * i as i32);
            let footer = if n > 1 {
                format!("{} · {}/{}", self.footer, i + 1, n)
            } else {
                self.footer.clone()
            };
            content.begin_text();
            content.set_font(Name(b"F1"), 7.5);
            content.next_line(MARGIN, 24.0);
            content.show(Str(&win_ansi(&footer)));
            content.end_text();
            {
                let mut p = pdf.page(page_ref);
                p.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT));
                p.parent(tree);
                p.contents(content_ref);
                let mut resources = p.resources();
                let mut fonts = resources.fonts();
                fonts.pair(Name(b"F1"), font);
                fonts.pair(Name(b"F2"), bold);
            }
            pdf.stream(content_ref, &content.finish());
        }
        pdf.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_wrap_within_the_page() {
        let text =
            "Belt de begeleider en doet de ontspanningsoefening; gaat niet alleen de straat op.";
        let lines = wrap(text, 10.0, 150.0);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| text_width(l, 10.0) <= 150.0));
        assert_eq!(lines.join(" "), text);
        let long = "x".repeat(200);
        assert!(wrap(&long, 10.0, 100.0).iter().all(|l| !l.is_empty()));
    }

    #[test]
    fn a_long_document_gets_more_pages() {
        let mut d = Document::new("Kring");
        d.title("Crisisplan van Anna de Vries");
        for i in 0..200 {
            d.bullet(&format!("Regel {i}: bel de crisisdienst, 088-358 58 58"));
        }
        let pdf = d.finish();
        assert!(pdf.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&pdf);
        let pages: usize = text
            .split("/Count ")
            .nth(1)
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert!(pages >= 3, "200 lines fill more than two pages: {pages}");
        let one = Document::new("Kring").finish();
        assert!(String::from_utf8_lossy(&one).contains("/Count 1"));
        assert_eq!(
            win_ansi("één – €"),
            vec![0xe9, 0xe9, b'n', b' ', 0x96, b' ', 0x80]
        );
    }
}
