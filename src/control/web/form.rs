//! `application/x-www-form-urlencoded` bodies, as browsers send forms.

use crate::http::ApiError;

#[derive(Debug, Default, Clone)]
pub struct Form(Vec<(String, String)>);

fn decode(s: &str) -> Option<String> {
    crate::http::percent_decode(s, true)
}

/// Encode a value for a query string or form.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Form {
    pub fn parse(body: &[u8]) -> Result<Form, ApiError> {
        let text = std::str::from_utf8(body)
            .map_err(|_| ApiError::bad_field("body", "form data is not UTF-8"))?;
        let mut pairs = Vec::new();
        for part in text.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let (Some(k), Some(v)) = (decode(k), decode(v)) else {
                return Err(ApiError::bad_field(
                    "body",
                    "bad percent-encoding in form data",
                ));
            };
            pairs.push((k, v));
        }
        Ok(Form(pairs))
    }

    /// The last value of `name` (a hidden "0" before a checkbox's "1" loses).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or("").trim().to_string()
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn checked(&self, name: &str) -> bool {
        matches!(self.get(name), Some("1" | "on" | "true"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode() {
        let f = Form::parse(b"a=1&b=x+y%21&c=&c=2&flag=0&flag=1&empty").unwrap();
        assert_eq!(f.get("b"), Some("x y!"));
        assert_eq!(f.all("c"), ["", "2"]);
        assert!(f.checked("flag"));
        assert_eq!(f.get("empty"), Some(""));
        assert!(Form::parse(b"a=%zz").is_err());
        assert_eq!(decode(&encode("a b/ä&")).unwrap(), "a b/ä&");
    }
}
