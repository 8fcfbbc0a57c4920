//! Edit a JSON file's text in place: change, add and remove object members
//! where a value changed, and leave every other byte as it was (key order,
//! indentation, number forms, members that were absent).
//!
//! [`rewrite`] works by steps: it compares what the text means (through the
//! caller's parser, which applies defaults) with the target, makes one splice
//! where they differ, and parses again, until they agree. So the result means
//! exactly the target, or the edit fails.

use serde_json::{Map, Value};
use std::fmt;
use std::ops::Range;

/// Why a file's text could not be edited into the target. `E` is the
/// caller's parser's error.
#[derive(Debug)]
pub enum EditError<E> {
    /// The caller's parser refused the text.
    Read(E),
    /// The text is not JSON as this editor reads it.
    Syntax(SyntaxError),
    /// No splice brings the text closer to the target.
    CannotWrite,
    TooManyChanges,
}

impl<E: fmt::Display> fmt::Display for EditError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EditError::Read(e) => write!(f, "{e}"),
            EditError::Syntax(e) => write!(f, "{e}"),
            EditError::CannotWrite => {
                f.write_str("the change cannot be written into the file's text")
            }
            EditError::TooManyChanges => {
                f.write_str("too many changes to write into the file's text")
            }
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for EditError<E> {}

/// Where the text stops being JSON (byte offsets).
#[derive(Debug)]
pub enum SyntaxError {
    UnexpectedText {
        at: usize,
    },
    EndsEarly,
    Expected {
        what: &'static str,
        at: usize,
    },
    BadKey {
        at: usize,
        source: serde_json::Error,
    },
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyntaxError::UnexpectedText { at } => write!(f, "unexpected text at byte {at}"),
            SyntaxError::EndsEarly => f.write_str("the text ends too early"),
            SyntaxError::Expected { what, at } => write!(f, "expected {what} at byte {at}"),
            SyntaxError::BadKey { at, source } => write!(f, "bad key at byte {at}: {source}"),
        }
    }
}

/// A path of object keys.
pub type Path = Vec<String>;

/// What changed from `old` to `new`, object member by object member: a new
/// value for a path, or `None` where a member was removed.
pub fn diff(old: &Value, new: &Value) -> Vec<(Path, Option<Value>)> {
    let mut out = Vec::new();
    diff_into(old, new, &mut Vec::new(), &mut out);
    out
}

fn diff_into(old: &Value, new: &Value, at: &mut Path, out: &mut Vec<(Path, Option<Value>)>) {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            for (k, nv) in n {
                at.push(k.clone());
                match o.get(k) {
                    Some(ov) => diff_into(ov, nv, at, out),
                    None => out.push((at.clone(), Some(nv.clone()))),
                }
                at.pop();
            }
            for k in o.keys().filter(|k| !n.contains_key(*k)) {
                at.push(k.clone());
                out.push((at.clone(), None));
                at.pop();
            }
        }
        _ if old != new => out.push((at.clone(), Some(new.clone()))),
        _ => {}
    }
}

/// Apply one change from [`diff`] to `value`, making objects on the way.
pub fn patch(value: &mut Value, path: &[String], change: Option<Value>) {
    let Some((last, parents)) = path.split_last() else {
        if let Some(v) = change {
            *value = v;
        }
        return;
    };
    let mut at = value;
    for k in parents {
        if !at.is_object() {
            *at = Value::Object(Map::new());
        }
        at = at
            .as_object_mut()
            .expect("an object")
            .entry(k.clone())
            .or_insert(Value::Object(Map::new()));
    }
    if !at.is_object() {
        *at = Value::Object(Map::new());
    }
    let obj = at.as_object_mut().expect("an object");
    match change {
        Some(v) => {
            obj.insert(last.clone(), v);
        }
        None => {
            obj.remove(last);
        }
    }
}

/// Change `text` until `parse(text)` equals `target`, touching only what differs.
/// `parse` reads the text as the program does (defaults filled in).
pub fn rewrite<E>(
    text: &str,
    parse: impl Fn(&str) -> Result<Value, E>,
    target: &Value,
) -> Result<String, EditError<E>> {
    let mut text = text.to_string();
    let unit = indent_unit(&text);
    for _ in 0..10_000 {
        let current = parse(&text).map_err(EditError::Read)?;
        if &current == target {
            return Ok(text);
        }
        let tree = Parser::new(&text).document().map_err(EditError::Syntax)?;
        let (range, with) =
            step(&text, &tree, &current, target, &unit).ok_or(EditError::CannotWrite)?;
        text.replace_range(range, &with);
    }
    Err(EditError::TooManyChanges)
}

#[derive(Debug)]
enum Node {
    /// `open` and `close` are the offsets of the braces.
    Object {
        open: usize,
        close: usize,
        members: Vec<Member>,
    },
    Other(Range<usize>),
}

impl Node {
    fn span(&self) -> Range<usize> {
        match self {
            Node::Object { open, close, .. } => *open..*close + 1,
            Node::Other(r) => r.clone(),
        }
    }
}

#[derive(Debug)]
struct Member {
    key: String,
    /// The key with its quotes.
    key_span: Range<usize>,
    node: Node,
}

struct Parser<'a> {
    text: &'a str,
    s: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Parser<'a> {
        Parser {
            text,
            s: text.as_bytes(),
            i: 0,
        }
    }

    fn document(mut self) -> Result<Node, SyntaxError> {
        let node = self.value()?;
        self.ws();
        if self.i != self.s.len() {
            return Err(SyntaxError::UnexpectedText { at: self.i });
        }
        Ok(node)
    }

    fn ws(&mut self) {
        while self
            .s
            .get(self.i)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.i += 1;
        }
    }

    fn peek(&self) -> Result<u8, SyntaxError> {
        self.s.get(self.i).copied().ok_or(SyntaxError::EndsEarly)
    }

    fn expect(&mut self, b: u8, what: &'static str) -> Result<(), SyntaxError> {
        if self.peek()? != b {
            return Err(SyntaxError::Expected { what, at: self.i });
        }
        self.i += 1;
        Ok(())
    }

    fn string(&mut self) -> Result<Range<usize>, SyntaxError> {
        let start = self.i;
        self.expect(b'"', "'\"'")?;
        loop {
            match self.peek()? {
                b'\\' => self.i += 2,
                b'"' => {
                    self.i += 1;
                    return Ok(start..self.i);
                }
                _ => self.i += 1,
            }
        }
    }

    fn value(&mut self) -> Result<Node, SyntaxError> {
        self.ws();
        let start = self.i;
        match self.peek()? {
            b'{' => self.object(),
            b'[' => {
                self.i += 1;
                self.ws();
                if self.peek()? != b']' {
                    loop {
                        self.value()?;
                        self.ws();
                        if self.peek()? == b',' {
                            self.i += 1;
                        } else {
                            break;
                        }
                    }
                }
                self.expect(b']', "']'")?;
                Ok(Node::Other(start..self.i))
            }
            b'"' => Ok(Node::Other(self.string()?)),
            _ => {
                while self.s.get(self.i).is_some_and(|b| {
                    !matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                }) {
                    self.i += 1;
                }
                if self.i == start {
                    return Err(SyntaxError::Expected {
                        what: "a value",
                        at: start,
                    });
                }
                Ok(Node::Other(start..self.i))
            }
        }
    }

    fn object(&mut self) -> Result<Node, SyntaxError> {
        let open = self.i;
        self.expect(b'{', "'{'")?;
        let mut members = Vec::new();
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Ok(Node::Object {
                open,
                close: self.i - 1,
                members,
            });
        }
        loop {
            self.ws();
            let key_span = self.string()?;
            let key: String =
                serde_json::from_str(&self.text[key_span.clone()]).map_err(|source| {
                    SyntaxError::BadKey {
                        at: key_span.start,
                        source,
                    }
                })?;
            self.ws();
            self.expect(b':', "':'")?;
            let node = self.value()?;
            members.push(Member {
                key,
                key_span,
                node,
            });
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Ok(Node::Object {
                        open,
                        close: self.i - 1,
                        members,
                    });
                }
                _ => {
                    return Err(SyntaxError::Expected {
                        what: ", or }",
                        at: self.i,
                    });
                }
            }
        }
    }
}

/// The whitespace that indents the file's first indented line (four spaces
/// when it has none).
fn indent_unit(text: &str) -> String {
    text.lines()
        .map(|l| &l[..l.len() - l.trim_start().len()])
        .find(|ws| !ws.is_empty())
        .unwrap_or("    ")
        .to_string()
}

/// The leading whitespace of the line that holds `pos`.
fn line_indent(text: &str, pos: usize) -> &str {
    let start = text[..pos].rfind('\n').map_or(0, |i| i + 1);
    let line = &text[start..];
    &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
}

/// `value` as JSON: on several lines indented like the file when `multiline`
/// (continuation lines start with `indent`), else on one line.
fn render(value: &Value, multiline: bool, unit: &str, indent: &str) -> String {
    let empty = match value {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => true,
    };
    if !multiline || empty {
        return serde_json::to_string(value).expect("a value serializes");
    }
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(unit.as_bytes());
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    serde::Serialize::serialize(value, &mut ser).expect("a value serializes");
    String::from_utf8(out)
        .expect("JSON is UTF-8")
        .replace('\n', &format!("\n{indent}"))
}

/// A number written where `old` stood: a whole number stays without a
/// fraction when the old one had none (`5` stays `5`-like, not `5.0`).
fn render_replacing(text: &str, span: &Range<usize>, value: &Value, unit: &str) -> String {
    let old = &text[span.clone()];
    if let Some(f) = value.as_f64()
        && value.is_f64()
        && f.fract() == 0.0
        && f.abs() < 1e15
        && old.parse::<f64>().is_ok()
        && !old.contains(['.', 'e', 'E'])
    {
        return format!("{}", f as i64);
    }
    render(
        value,
        old.contains('\n'),
        unit,
        line_indent(text, span.start),
    )
}

/// What of `target` differs from `current`: objects only with their changed
/// members (absent struct fields keep their defaults).
fn partial(current: &Map<String, Value>, target: &Map<String, Value>) -> Map<String, Value> {
    target
        .iter()
        .filter(|(k, v)| current.get(*k) != Some(*v))
        .map(|(k, v)| match (current.get(k), v) {
            (Some(Value::Object(c)), Value::Object(t)) => (k.clone(), Value::Object(partial(c, t))),
            _ => (k.clone(), v.clone()),
        })
        .collect()
}

/// One splice that brings the text under `node` closer to `target`.
fn step(
    text: &str,
    node: &Node,
    current: &Value,
    target: &Value,
    unit: &str,
) -> Option<(Range<usize>, String)> {
    let (
        Node::Object {
            open,
            close,
            members,
        },
        Value::Object(cur),
        Value::Object(tgt),
    ) = (node, current, target)
    else {
        let span = node.span();
        return Some((span.clone(), render_replacing(text, &span, target, unit)));
    };
    let find = |k: &str| members.iter().position(|m| m.key == k);
    for (k, t) in tgt {
        let c = cur.get(k);
        if c == Some(t) {
            continue;
        }
        if let Some(i) = find(k) {
            let m = &members[i];
            if let (Node::Object { .. }, Some(c @ Value::Object(_)), Value::Object(_)) =
                (&m.node, c, t)
                && let Some(s) = step(text, &m.node, c, t, unit)
            {
                return Some(s);
            }
            let span = m.node.span();
            return Some((span.clone(), render_replacing(text, &span, t, unit)));
        }
        let value = match (c, t) {
            (Some(Value::Object(c)), Value::Object(t)) => Value::Object(partial(c, t)),
            _ => t.clone(),
        };
        return Some(insert(text, *open, *close, members, k, &value, unit));
    }
    for k in cur.keys().filter(|k| !tgt.contains_key(*k)) {
        if let Some(i) = find(k) {
            return Some(remove(*open, *close, members, i));
        }
    }
    None
}

fn insert(
    text: &str,
    open: usize,
    close: usize,
    members: &[Member],
    key: &str,
    value: &Value,
    unit: &str,
) -> (Range<usize>, String) {
    let key = serde_json::to_string(key).expect("a key serializes");
    let multiline_file = text.trim_end().contains('\n');
    match (members.first(), members.last()) {
        (Some(first), Some(last)) => {
            let after_key = last.key_span.end;
            let sep = &text[after_key..last.node.span().start];
            let sep = if sep.contains('\n') { ": " } else { sep };
            let lead = &text[open + 1..first.key_span.start];
            let end = last.node.span().end;
            if lead.contains('\n') {
                let indent = &lead[lead.rfind('\n').map_or(0, |i| i + 1)..];
                let v = render(value, true, unit, indent);
                (end..end, format!(",\n{indent}{key}{sep}{v}"))
            } else {
                let v = render(value, false, unit, "");
                (end..end, format!(", {key}{sep}{v}"))
            }
        }
        _ => {
            if multiline_file {
                let outer = line_indent(text, open);
                let indent = format!("{outer}{unit}");
                let v = render(value, true, unit, &indent);
                (open + 1..close, format!("\n{indent}{key}: {v}\n{outer}"))
            } else {
                let v = render(value, false, unit, "");
                (open + 1..close, format!("{key}: {v}"))
            }
        }
    }
}

fn remove(open: usize, close: usize, members: &[Member], i: usize) -> (Range<usize>, String) {
    let range = if members.len() == 1 {
        open + 1..close
    } else if i + 1 < members.len() {
        members[i].key_span.start..members[i + 1].key_span.start
    } else {
        members[i - 1].node.span().end..members[i].node.span().end
    };
    (range, String::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Reads text with defaults: `{"a": 1, "s": {"x": 1, "y": 2}, "m": {"k": 1}}`.
    fn with_defaults(text: &str) -> serde_json::Result<Value> {
        let mut v = json!({"a": 1.0, "s": {"x": 1.0, "y": 2.0}, "m": {"k": 1.0}});
        let file: Value = serde_json::from_str(text)?;
        for (k, fv) in file.as_object().unwrap() {
            match (k.as_str(), fv) {
                ("s", Value::Object(o)) => {
                    for (sk, sv) in o {
                        v["s"][sk] = json!(sv.as_f64().unwrap());
                    }
                }
                ("m", Value::Object(o)) => {
                    v["m"] = Value::Object(
                        o.iter()
                            .map(|(k, x)| (k.clone(), json!(x.as_f64().unwrap())))
                            .collect(),
                    )
                }
                _ => v[k] = json!(fv.as_f64().unwrap()),
            }
        }
        Ok(v)
    }

    fn edit(text: &str, change: impl Fn(&mut Value)) -> String {
        let mut target = with_defaults(text).unwrap();
        change(&mut target);
        let out = rewrite(text, with_defaults, &target).unwrap();
        assert_eq!(with_defaults(&out).unwrap(), target, "{out}");
        out
    }

    #[test]
    fn only_what_changed_is_touched() {
        let text = "{\n  \"s\": {\n    \"y\": 2,\n    \"x\": 1e0\n  },\n  \"a\": 5,\n  \"m\": {\"z\": 1, \"b\": 2}\n}\n";
        // Nothing changed: the text stays byte for byte.
        assert_eq!(edit(text, |_| {}), text);
        // A whole number keeps its form; the other members and the order stay.
        let out = edit(text, |v| v["a"] = json!(3.0));
        assert_eq!(out, text.replace("\"a\": 5", "\"a\": 3"));
        let out = edit(text, |v| v["a"] = json!(2.5));
        assert_eq!(out, text.replace("\"a\": 5", "\"a\": 2.5"));
        // A member added at the end of its object, with the object's layout.
        let out = edit(text, |v| v["m"]["c"] = json!(0.5));
        assert_eq!(out, text.replace("\"b\": 2}", "\"b\": 2, \"c\": 0.5}"));
        // Removed, first and last.
        let out = edit(text, |v| {
            v["m"].as_object_mut().unwrap().remove("z");
        });
        assert_eq!(out, text.replace("\"z\": 1, ", ""));
        let out = edit(text, |v| {
            v["m"].as_object_mut().unwrap().remove("b");
        });
        assert_eq!(out, text.replace(", \"b\": 2", ""));
    }

    #[test]
    fn absent_members_stay_absent_and_new_ones_take_the_files_indent() {
        let text = "{\n\t\"a\": 1.0\n}";
        let out = edit(text, |v| v["s"]["y"] = json!(7.0));
        assert_eq!(out, "{\n\t\"a\": 1.0,\n\t\"s\": {\n\t\t\"y\": 7.0\n\t}\n}");
        // A map that was absent is written whole once it changes.
        let out = edit(text, |v| v["m"] = json!({"q": 2.0}));
        assert_eq!(out, "{\n\t\"a\": 1.0,\n\t\"m\": {\n\t\t\"q\": 2.0\n\t}\n}");
        let out = edit("{}", |v| v["a"] = json!(4.0));
        assert_eq!(out, "{\"a\": 4.0}");
        let out = edit("{\n}\n", |v| v["a"] = json!(4.0));
        assert_eq!(out, "{\n    \"a\": 4.0\n}\n");
    }

    #[test]
    fn diff_and_patch_carry_changes_to_another_value() {
        let old = json!({"a": 1, "m": {"x": 1, "y": 2}});
        let new = json!({"a": 2, "m": {"x": 1, "z": 3}});
        let mut other = json!({"a": 1, "b": 9, "m": {"x": 5, "y": 2}});
        for (path, change) in diff(&old, &new) {
            patch(&mut other, &path, change);
        }
        assert_eq!(other, json!({"a": 2, "b": 9, "m": {"x": 5, "z": 3}}));
    }
}
