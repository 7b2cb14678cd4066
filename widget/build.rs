//! Compacts the style sheet the wasm build compiles in (`style/natter.css`
//! into `$OUT_DIR/natter.css`): comments go, and so does whitespace that
//! CSS does not read (runs collapse to one space; none is kept next to
//! `{ } ; , >` or after `:`). Quoted strings are copied as they are.

use std::path::Path;

fn compact(css: &str) -> String {
    let mut out = String::with_capacity(css.len());
    let mut chars = css.chars().peekable();
    let mut space = false;
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
                space = true;
            }
            '"' | '\'' => {
                if space && !out.is_empty() && !out.ends_with(['{', '}', ';', ',', '>', ':']) {
                    out.push(' ');
                }
                space = false;
                out.push(c);
                for q in chars.by_ref() {
                    out.push(q);
                    if q == c {
                        break;
                    }
                }
            }
            c if c.is_whitespace() => space = true,
            c => {
                let tight = |ch: char| matches!(ch, '{' | '}' | ';' | ',' | '>');
                if space && !out.is_empty() && !tight(c) && !out.ends_with(['{', '}', ';', ',', '>', ':']) {
                    out.push(' ');
                }
                space = false;
                if c == '}' && out.ends_with(';') {
                    out.pop();
                }
                out.push(c);
            }
        }
    }
    out
}

fn main() {
    let source = Path::new("style/natter.css");
    println!("cargo::rerun-if-changed={}", source.display());
    let css = std::fs::read_to_string(source).expect("style/natter.css");
    let out = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("natter.css");
    std::fs::write(out, compact(&css)).expect("write the compacted style sheet");
}
