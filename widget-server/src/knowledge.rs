//! The knowledge base's text handling: what an uploaded file is (sniffed
//! from its bytes, never trusted from its name), its text, the passages it
//! is split into for search, and how well a passage covers a query. Search
//! itself runs in the database (SQLite FTS5 with the Porter stemmer over
//! Unicode tokens; PostgreSQL `tsvector` in English, Russian and simple
//! configurations with a GIN index); this module turns a question into the
//! terms both take and scores what they find in [0, 1].

use std::collections::BTreeSet;

/// A document's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Markdown,
    Html,
    Pdf,
    Docx,
}

impl Format {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Text => "txt",
            Self::Markdown => "md",
            Self::Html => "html",
            Self::Pdf => "pdf",
            Self::Docx => "docx",
        }
    }
}

/// Why a file cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the file is empty")]
    Empty,
    #[error("the file is not a PDF, DOCX, TXT, Markdown or HTML document")]
    Unknown,
    #[error("the file has no text to search")]
    NoText,
    #[error("the PDF could not be read (it may be damaged, encrypted or scanned images)")]
    UnreadablePdf,
    #[error("the HTML nests elements more than {MAX_HTML_DEPTH} deep")]
    TooDeep,
}

/// What the bytes are: PDF and DOCX by their signatures; otherwise UTF-8 text
/// (with or without a BOM), HTML when it looks like markup, Markdown when
/// named so. Anything else (binary, another encoding) is refused.
pub fn sniff(bytes: &[u8], file_name: &str) -> Result<Format, Refused> {
    if bytes.is_empty() {
        return Err(Refused::Empty);
    }
    if bytes.starts_with(b"%PDF-") {
        return Ok(Format::Pdf);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return Ok(Format::Docx);
    }
    let text =
        std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)).map_err(|_| Refused::Unknown)?;
    if text.contains('\0') {
        return Err(Refused::Unknown);
    }
    let head = text.trim_start().chars().take(512).collect::<String>().to_lowercase();
    let name = file_name.to_lowercase();
    if head.starts_with("<!doctype html")
        || head.starts_with("<html")
        || name.ends_with(".html")
        || name.ends_with(".htm")
    {
        return Ok(Format::Html);
    }
    if name.ends_with(".md") || name.ends_with(".markdown") {
        return Ok(Format::Markdown);
    }
    Ok(Format::Text)
}

/// The searchable text of a document.
pub fn extract(bytes: &[u8], format: Format) -> Result<String, Refused> {
    let text = match format {
        Format::Pdf => pdf_text(bytes)?,
        Format::Docx => docx_text(bytes)?,
        Format::Text => String::from_utf8_lossy(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)).into_owned(),
        Format::Markdown => markdown_text(&String::from_utf8_lossy(bytes)),
        Format::Html => {
            let html = String::from_utf8_lossy(bytes);
            if nesting(&html) > MAX_HTML_DEPTH {
                return Err(Refused::TooDeep);
            }
            html_text(&html)
        }
    };
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    if text.chars().all(|c| c.is_whitespace() || c == HEADING) {
        return Err(Refused::NoText);
    }
    Ok(text)
}

/// The text of a PDF, page by page. The reader is isolated: a malformed
/// file that makes it panic is refused, never a crash.
fn pdf_text(bytes: &[u8]) -> Result<String, Refused> {
    let pages = std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem_by_pages(bytes))
        .map_err(|_| Refused::UnreadablePdf)?
        .map_err(|_| Refused::UnreadablePdf)?;
    Ok(pages.join("\n\n"))
}

/// The most XML a DOCX may unpack to, so a small file cannot expand without bound.
const MAX_DOCX_XML: u64 = 20 * 1024 * 1024;

/// The text of a DOCX (`word/document.xml` in its zip): runs of text,
/// paragraphs as paragraphs, headings (`Heading…` and `Title` styles) marked.
fn docx_text(bytes: &[u8]) -> Result<String, Refused> {
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|_| Refused::Unknown)?;
    let document = archive.by_name("word/document.xml").map_err(|_| Refused::Unknown)?;
    let mut xml = String::new();
    document.take(MAX_DOCX_XML).read_to_string(&mut xml).map_err(|_| Refused::Unknown)?;
    Ok(wordml_text(&xml))
}

/// The text of WordprocessingML, read with an XML parser: runs of text,
/// tabs and breaks, one paragraph per `w:p`, headings marked.
fn wordml_text(xml: &str) -> String {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out = String::with_capacity(xml.len() / 4);
    let mut paragraph = String::new();
    let (mut heading, mut in_text) = (false, false);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) if e.name().as_ref() == "w:t" => in_text = true,
            Ok(Event::End(e)) => match e.name().as_ref() {
                "w:t" => in_text = false,
                "w:p" => {
                    out.push_str("\n\n");
                    if heading {
                        out.push(HEADING);
                    }
                    out.push_str(paragraph.trim());
                    paragraph.clear();
                    heading = false;
                }
                _ => {}
            },
            Ok(Event::Empty(e)) => match e.name().as_ref() {
                "w:tab" => paragraph.push(' '),
                "w:br" | "w:cr" => paragraph.push('\n'),
                "w:pStyle" => {
                    let style = e.try_get_attribute("w:val").ok().flatten().map(|a| a.value.into_owned());
                    let style = style.as_deref().unwrap_or_default();
                    heading = style.starts_with("Heading") || style == "Title";
                }
                _ => {}
            },
            Ok(Event::Text(t)) if in_text => paragraph.push_str(&t.xml10_content()),
            Ok(Event::GeneralRef(r)) if in_text => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    paragraph.push(c);
                } else if let Some(text) = quick_xml::escape::resolve_predefined_entity(&r.xml10_content()) {
                    paragraph.push_str(text);
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    out.push_str("\n\n");
    out.push_str(paragraph.trim());
    out
}

/// Markdown as plain text, read with a CommonMark parser: headings marked,
/// paragraphs and list items kept apart, emphasis, code marks and links
/// unwrapped, images and raw HTML left out.
fn markdown_text(md: &str) -> String {
    use pulldown_cmark::{Event, Parser, Tag, TagEnd};
    let mut out = String::with_capacity(md.len());
    let mut in_image = 0usize;
    for event in Parser::new(md) {
        match event {
            Event::Start(Tag::Heading { .. }) => {
                out.push_str("\n\n");
                out.push(HEADING);
            }
            Event::Start(Tag::Image { .. }) => in_image += 1,
            Event::End(TagEnd::Image) => in_image = in_image.saturating_sub(1),
            Event::End(TagEnd::Heading(_) | TagEnd::Paragraph | TagEnd::CodeBlock | TagEnd::BlockQuote(_)) => {
                out.push_str("\n\n");
            }
            Event::End(TagEnd::Item | TagEnd::TableRow) => out.push('\n'),
            Event::End(TagEnd::TableCell) => out.push(' '),
            Event::Text(text) | Event::Code(text) if in_image == 0 => out.push_str(&text),
            Event::SoftBreak | Event::HardBreak => out.push('\n'),
            _ => {}
        }
    }
    out
}

/// HTML as plain text, read with an HTML5 parser: scripts, styles and the
/// head dropped, block elements as line breaks, headings marked. The walk
/// is iterative, so however deep a hostile document nests, the stack holds.
fn html_text(html: &str) -> String {
    use ego_tree::iter::Edge;
    use scraper::Node;
    let document = scraper::Html::parse_document(html);
    let mut out = String::with_capacity(html.len() / 2);
    let mut skipping = None;
    for edge in document.tree.root().traverse() {
        match edge {
            Edge::Open(node) if skipping.is_none() => match node.value() {
                Node::Text(text) => out.extend(text.chars().map(|c| if c == '\u{a0}' { ' ' } else { c })),
                Node::Element(e) => {
                    let name = e.name();
                    if matches!(name, "script" | "style" | "noscript" | "template" | "head") {
                        skipping = Some(node.id());
                    } else if matches!(name, "h1" | "h2" | "h3" | "h4" | "h5" | "h6") {
                        out.push_str("\n\n");
                        out.push(HEADING);
                    } else if matches!(name, "br" | "li" | "tr") {
                        out.push('\n');
                    } else if block(name) {
                        out.push_str("\n\n");
                    }
                }
                _ => {}
            },
            Edge::Close(node) => {
                if skipping == Some(node.id()) {
                    skipping = None;
                } else if let (None, Node::Element(e)) = (skipping, node.value()) {
                    if block(e.name()) || e.name().starts_with('h') && e.name().len() == 2 {
                        out.push_str("\n\n");
                    }
                }
            }
            Edge::Open(_) => {}
        }
    }
    out
}

/// Element nesting an HTML document may have. An HTML5 parser's work grows
/// with the square of the depth, so a hostile document is refused before it
/// is parsed; real pages stay far below.
const MAX_HTML_DEPTH: usize = 1_000;

/// How deep the document's elements nest, counted from its tags: void
/// elements and those whose end tag may be left out (the parser closes them
/// by itself) do not count.
fn nesting(html: &str) -> usize {
    const OPEN_ENDED: [&str; 22] = [
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr", "p",
        "li", "dt", "dd", "tr", "td", "th", "option", "!",
    ];
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        rest = &rest[lt + 1..];
        let closing = rest.starts_with('/');
        let name: String = rest
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '!')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if name.is_empty() || OPEN_ENDED.iter().any(|v| name == *v || name.starts_with('!')) {
            continue;
        }
        let self_closed = rest.find('>').is_some_and(|gt| rest[..gt].ends_with('/'));
        if closing {
            depth = depth.saturating_sub(1);
        } else if !self_closed {
            depth += 1;
            deepest = deepest.max(depth);
        }
    }
    deepest
}

/// Elements that hold paragraphs of their own.
fn block(name: &str) -> bool {
    matches!(
        name,
        "p" | "div"
            | "section"
            | "article"
            | "header"
            | "footer"
            | "main"
            | "aside"
            | "blockquote"
            | "pre"
            | "dt"
            | "dd"
            | "table"
            | "ul"
            | "ol"
            | "details"
            | "summary"
    )
}

/// Characters a passage aims for; paragraphs are joined up to it.
const PASSAGE_TARGET: usize = 500;
/// Marks a heading in extracted text: a heading starts a new passage (an
/// FAQ's questions stay apart). It never reaches storage.
const HEADING: char = '\u{2}';
/// Characters a passage never exceeds; longer paragraphs are cut at sentence ends.
const PASSAGE_MAX: usize = 1200;

/// Splits text into passages: paragraphs (blank-line separated) joined while
/// short, long ones cut at sentence ends, so a search finds the fragment that
/// answers rather than the whole document.
pub fn passages(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    let paragraphs =
        text.split("\n\n").map(|p| p.split_whitespace().collect::<Vec<_>>().join(" ")).filter(|p| !p.is_empty());
    for paragraph in paragraphs {
        let paragraph = match paragraph.strip_prefix(HEADING) {
            Some(heading) => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
                heading.trim().to_owned()
            }
            None => paragraph,
        };
        let paragraph = paragraph.replace(HEADING, "");
        if paragraph.is_empty() {
            continue;
        }
        for piece in cut(&paragraph) {
            if !current.is_empty() && current.chars().count() + piece.chars().count() + 1 > PASSAGE_TARGET {
                out.push(std::mem::take(&mut current));
            }
            if !current.is_empty() {
                current.push('\n');
            }
            current.push_str(&piece);
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// A paragraph in pieces of at most [`PASSAGE_MAX`] characters, cut after a sentence where possible.
fn cut(paragraph: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut rest: Vec<char> = paragraph.chars().collect();
    while rest.len() > PASSAGE_MAX {
        let window = &rest[..PASSAGE_MAX];
        let at = window
            .iter()
            .enumerate()
            .rev()
            .find(|(i, c)| matches!(c, '.' | '!' | '?' | '…') && *i > PASSAGE_MAX / 3)
            .map(|(i, _)| i + 1)
            .or_else(|| window.iter().rposition(|c| c.is_whitespace()).filter(|i| *i > 0))
            .unwrap_or(PASSAGE_MAX);
        pieces.push(rest[..at].iter().collect::<String>().trim().to_owned());
        rest.drain(..at);
    }
    let last: String = rest.into_iter().collect();
    if !last.trim().is_empty() {
        pieces.push(last.trim().to_owned());
    }
    pieces
}

/// Words that say nothing about what is asked, in English, Ukrainian and Russian.
const STOPWORDS: &[&str] = &[
    "a",
    "an",
    "and",
    "are",
    "as",
    "at",
    "be",
    "by",
    "can",
    "do",
    "does",
    "for",
    "from",
    "how",
    "i",
    "if",
    "in",
    "is",
    "it",
    "me",
    "my",
    "of",
    "on",
    "or",
    "the",
    "to",
    "was",
    "we",
    "what",
    "when",
    "where",
    "which",
    "who",
    "why",
    "will",
    "with",
    "you",
    "your",
    "й",
    "і",
    "в",
    "у",
    "на",
    "з",
    "із",
    "що",
    "як",
    "це",
    "до",
    "та",
    "чи",
    "не",
    "для",
    "мені",
    "мене",
    "я",
    "ви",
    "ваш",
    "можна",
    "и",
    "во",
    "с",
    "со",
    "что",
    "как",
    "это",
    "по",
    "мне",
    "меня",
    "вы",
    "ли",
    "а",
    "но",
    "к",
    "о",
    "об",
    "от",
    "за",
    "из",
];

/// Most terms a query is searched with.
pub const MAX_TERMS: usize = 24;

/// The distinct search terms of a query: lowercased runs of letters and
/// digits, stopwords and single characters left out, in order of appearance.
pub fn terms(query: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    query
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|t| t.chars().count() >= 2 && !STOPWORDS.contains(&t.as_str()))
        .filter(|t| seen.insert(t.clone()))
        .take(MAX_TERMS)
        .collect()
}

/// A term's stem, roughly: short words whole, longer ones without their last
/// letters, so "returns" and "returning" meet "return" and "повернення" meets "повернути".
fn stem(term: &str) -> String {
    let n = term.chars().count();
    let keep = if n <= 4 { n } else { (n * 2 / 3).max(4) };
    term.chars().take(keep).collect()
}

/// How well a passage covers the terms, in [0, 1]: the share of terms whose
/// stem it contains, with longer terms (which say more) weighing more.
pub fn coverage(terms: &[String], passage: &str) -> f64 {
    if terms.is_empty() {
        return 0.0;
    }
    let text = passage.to_lowercase();
    let weight = |t: &String| t.chars().count().min(8) as f64;
    let total: f64 = terms.iter().map(weight).sum();
    let found: f64 = terms.iter().filter(|t| text.contains(&stem(t))).map(weight).sum();
    (found / total).clamp(0.0, 1.0)
}

/// The best passages of an account's knowledge base for `query`, each with
/// its coverage score (to 0.01), best first: the database's full-text search
/// finds candidates, coverage orders them (the database's rank breaks ties).
pub async fn best_passages(
    store: &dyn crate::store::Store,
    account_id: &str,
    query: &str,
    limit: usize,
) -> crate::store::StoreResult<Vec<(crate::store::KnowledgeHit, f64)>> {
    let terms = terms(query);
    let want = i64::try_from(limit.saturating_mul(4)).unwrap_or(80).max(20);
    let candidates = store.search_passages(account_id, &terms, want).await?;
    let mut scored: Vec<(f64, usize, crate::store::KnowledgeHit)> = candidates
        .into_iter()
        .enumerate()
        .map(|(rank, hit)| ((coverage(&terms, &hit.content) * 100.0).round() / 100.0, rank, hit))
        .filter(|(score, ..)| *score > 0.0)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    Ok(scored.into_iter().take(limit).map(|(score, _, hit)| (hit, score)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_known_by_their_bytes_not_their_names() {
        assert_eq!(sniff(b"%PDF-1.7 ...", "faq.txt"), Ok(Format::Pdf));
        assert_eq!(sniff(b"PK\x03\x04....", "faq.txt"), Ok(Format::Docx));
        assert_eq!(sniff(b"<!DOCTYPE html><p>Hi</p>", "faq.txt"), Ok(Format::Html));
        assert_eq!(sniff("# Питання\n".as_bytes(), "faq.md"), Ok(Format::Markdown));
        assert_eq!(sniff(b"\xEF\xBB\xBFplain", "faq.bin"), Ok(Format::Text));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0", "faq.txt"), Err(Refused::Unknown));
        assert_eq!(sniff(b"abc\0def", "faq.txt"), Err(Refused::Unknown));
        assert_eq!(sniff(b"", "faq.txt"), Err(Refused::Empty));
    }

    /// A DOCX the way word processors write one: a zip with `word/document.xml`.
    pub(crate) fn docx(paragraphs: &[(&str, &str)]) -> Vec<u8> {
        use std::io::Write;
        let body: String = paragraphs
            .iter()
            .map(|(style, text)| {
                let style = if style.is_empty() {
                    String::new()
                } else {
                    format!("<w:pPr><w:pStyle w:val=\"{style}\"/></w:pPr>")
                };
                format!("<w:p>{style}<w:r><w:t xml:space=\"preserve\">{text}</w:t></w:r></w:p>")
            })
            .collect();
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
             <w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>{body}</w:body></w:document>"
        );
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("[Content_Types].xml", options).expect("entry");
        zip.write_all(b"<Types/>").expect("write");
        zip.start_file("word/document.xml", options).expect("entry");
        zip.write_all(xml.as_bytes()).expect("write");
        zip.finish().expect("zip").into_inner()
    }

    /// A one-page PDF with `lines` in Helvetica, as lopdf writes one.
    pub(crate) fn pdf(lines: &[&str]) -> Vec<u8> {
        use lopdf::content::{Content, Operation};
        use lopdf::{dictionary, Document, Object, Stream};
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let font_id = doc.add_object(dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica" });
        let resources_id = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
        let mut operations = vec![Operation::new("BT", vec![]), Operation::new("Tf", vec!["F1".into(), 12.into()])];
        for (i, line) in lines.iter().enumerate() {
            let y = 780 - 40 * i64::try_from(i).expect("few lines");
            operations.push(Operation::new("Tm", vec![1.into(), 0.into(), 0.into(), 1.into(), 72.into(), y.into()]));
            operations.push(Operation::new("Tj", vec![Object::string_literal(*line)]));
        }
        operations.push(Operation::new("ET", vec![]));
        let content = Content { operations };
        let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode().expect("content")));
        let page_id = doc.add_object(dictionary! { "Type" => "Page", "Parent" => pages_id, "Contents" => content_id });
        let pages = dictionary! {
            "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1, "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        };
        doc.objects.insert(pages_id, Object::Dictionary(pages));
        let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog_id);
        let mut out = Vec::new();
        doc.save_to(&mut out).expect("pdf");
        out
    }

    #[test]
    fn pdf_text_is_read_and_broken_pdfs_are_refused() {
        let bytes = pdf(&["Refunds are paid within five days.", "Grinders have a two-year warranty."]);
        assert_eq!(sniff(&bytes, "policy.pdf"), Ok(Format::Pdf));
        let text = extract(&bytes, Format::Pdf).expect("text");
        assert!(text.contains("Refunds are paid within five days."), "{text:?}");
        assert!(text.contains("two-year warranty"), "{text:?}");
        assert_eq!(extract(b"%PDF-1.4\nnot really a pdf", Format::Pdf), Err(Refused::UnreadablePdf));
    }

    #[test]
    fn docx_keeps_its_paragraphs_and_headings() {
        let bytes = docx(&[
            ("Heading1", "Повернення"),
            ("", "Товар можна повернути протягом 30 днів &amp; без чека."),
            ("Heading1", "Shipping"),
            ("", "We ship on weekdays."),
        ]);
        assert_eq!(sniff(&bytes, "faq.docx"), Ok(Format::Docx));
        let text = extract(&bytes, Format::Docx).expect("text");
        assert_eq!(
            passages(&text),
            ["Повернення\nТовар можна повернути протягом 30 днів & без чека.", "Shipping\nWe ship on weekdays."]
        );
        assert_eq!(extract(b"PK\x03\x04 not really a zip", Format::Docx), Err(Refused::Unknown));
    }

    #[test]
    fn html_keeps_its_text_and_drops_its_code() {
        let html = "<html><head><style>p{color:red}</style><script>alert('x')</script></head>\
                    <body><h1>Returns</h1><p>Send it back within 30&nbsp;days &amp; keep the receipt.</p>\
                    <p>Ask &#x41;nn &lt;support&gt;</p></body></html>";
        let text = extract(html.as_bytes(), Format::Html).expect("text");
        assert!(text.contains("Returns"));
        assert!(text.contains("Send it back within 30 days & keep the receipt."));
        assert!(text.contains("Ask Ann <support>"));
        assert!(!text.contains("alert") && !text.contains("color"), "{text}");
        assert_eq!(passages(&text), ["Returns\nSend it back within 30 days & keep the receipt.\nAsk Ann <support>"]);
    }

    #[test]
    fn deeply_nested_html_is_refused_before_it_is_parsed() {
        let deep = |n: usize| format!("{}answer{}", "<div>".repeat(n), "</div>".repeat(n));
        let html = deep(MAX_HTML_DEPTH);
        let text = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || extract(html.as_bytes(), Format::Html))
            .expect("thread")
            .join()
            .expect("no stack overflow");
        assert!(text.expect("text").contains("answer"));
        assert_eq!(extract(deep(500_000).as_bytes(), Format::Html), Err(Refused::TooDeep));
        let flat = "<ul><li>one<li>two<p>three<br><img src=x></ul>".repeat(5_000);
        assert_eq!(nesting(&flat), 1, "open-ended and void elements do not nest");
    }

    #[test]
    fn markdown_loses_its_marks() {
        let md = "# Доставка\n\nМи **доставляємо** по всій Україні, див. [умови](https://x.example/terms).\n\n![logo](logo.png)";
        let text = extract(md.as_bytes(), Format::Markdown).expect("text");
        assert!(text.contains("Доставка"));
        assert!(text.contains("Ми доставляємо по всій Україні, див. умови."), "{text}");
        assert!(!text.contains("https://") && !text.contains("logo"), "{text}");
    }

    #[test]
    fn headings_start_passages_and_short_paragraphs_join() {
        let md =
            "# Shipping\n\nWe ship on weekdays.\n\nOrders before noon leave today.\n\n## Returns\n\nWithin 30 days.";
        let text = extract(md.as_bytes(), Format::Markdown).expect("text");
        assert_eq!(
            passages(&text),
            ["Shipping\nWe ship on weekdays.\nOrders before noon leave today.", "Returns\nWithin 30 days."]
        );
        assert!(passages(&text).iter().all(|p| !p.contains(HEADING)));
    }

    #[test]
    fn long_text_is_cut_into_passages_at_sentence_ends() {
        let sentence = "This sentence is about shipping times and costs. ";
        let text = format!("{}\n\n{}", sentence.repeat(40), "Returns are free.");
        let parts = passages(&text);
        assert!(parts.len() >= 2, "{parts:?}");
        assert!(parts.iter().all(|p| p.chars().count() <= PASSAGE_MAX));
        assert!(parts[0].ends_with('.'), "cut after a sentence");
        assert!(parts.last().expect("last").contains("Returns are free."));
    }

    #[test]
    fn terms_drop_stopwords_in_three_languages() {
        assert_eq!(terms("How do I return an item?"), ["return", "item"]);
        assert_eq!(terms("Як повернути товар?"), ["повернути", "товар"]);
        assert_eq!(terms("Как вернуть товар, товар!"), ["вернуть", "товар"]);
        assert!(terms("a an the").is_empty());
    }

    #[test]
    fn the_passage_that_answers_covers_more() {
        let q = terms("How do I return a damaged item?");
        let answer = "Returns: a damaged item can be returned within 30 days for a refund.";
        let mention = "Our items ship from Kyiv.";
        assert!(coverage(&q, answer) > coverage(&q, mention));
        assert!((coverage(&q, answer) - 1.0).abs() < f64::EPSILON, "{}", coverage(&q, answer));
        assert_eq!(coverage(&q, "nothing related"), 0.0);
        assert_eq!(coverage(&[], "anything"), 0.0);
    }
}
