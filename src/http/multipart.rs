//! One file out of a `multipart/form-data` body, as it streams in: the page's
//! update form posts a bundle of hundreds of megabytes, which is never held
//! whole. Only the tail that may hold the next boundary is kept back.

/// Part headers longer than this are not a browser's.
const MAX_HEAD: usize = 8 * 1024;

/// Why the body is not a form with the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultipartError {
    /// The form ended without a part of this name with a file.
    NoFile(String),
    /// A part's headers did not end within [`MAX_HEAD`] bytes.
    HeadTooLong,
    /// The body ended before the file's closing boundary.
    Truncated,
}

impl std::fmt::Display for MultipartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MultipartError::NoFile(name) => write!(f, "the form has no file in field `{name}`"),
            MultipartError::HeadTooLong => {
                write!(f, "a form part's headers exceed {MAX_HEAD} bytes")
            }
            MultipartError::Truncated => {
                f.write_str("the form ended before the file's closing boundary")
            }
        }
    }
}

impl std::error::Error for MultipartError {}

/// The boundary a `multipart/form-data` Content-Type names.
pub fn boundary(content_type: &str) -> Option<&str> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| !v.is_empty() && v.len() <= 70)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// Looking for the next delimiter; `keep`: the bytes before it are the file.
    Seek {
        keep: bool,
    },
    /// After a delimiter: a part's headers, or `--` for the end.
    Head,
    Done,
}

/// Feeds body chunks in, gives the file's bytes out.
pub struct FilePart {
    /// `\r\n--boundary`: the body's start is given a `\r\n` so the first
    /// delimiter looks like every other.
    delim: Vec<u8>,
    field: String,
    buf: Vec<u8>,
    state: State,
}

impl FilePart {
    pub fn new(boundary: &str, field: &str) -> FilePart {
        FilePart {
            delim: format!("\r\n--{boundary}").into_bytes(),
            field: field.to_string(),
            buf: b"\r\n".to_vec(),
            state: State::Seek { keep: false },
        }
    }

    /// The file's bytes that `chunk` completes (often all but a short tail).
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<u8>, MultipartError> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        loop {
            match self.state {
                State::Done => {
                    self.buf.clear();
                    return Ok(out);
                }
                State::Seek { keep } => {
                    let Some(i) = find(&self.buf, &self.delim) else {
                        let safe = self.buf.len().saturating_sub(self.delim.len() - 1);
                        if keep {
                            out.extend_from_slice(&self.buf[..safe]);
                        }
                        self.buf.drain(..safe);
                        return Ok(out);
                    };
                    if keep {
                        out.extend_from_slice(&self.buf[..i]);
                    }
                    self.buf.drain(..i + self.delim.len());
                    self.state = if keep { State::Done } else { State::Head };
                }
                State::Head => {
                    if self.buf.starts_with(b"--") {
                        return Err(MultipartError::NoFile(self.field.clone()));
                    }
                    let Some(i) = find(&self.buf, b"\r\n\r\n") else {
                        if self.buf.len() > MAX_HEAD {
                            return Err(MultipartError::HeadTooLong);
                        }
                        return Ok(out);
                    };
                    let keep = self.is_the_file(&self.buf[..i]);
                    self.buf.drain(..i + 4);
                    self.state = State::Seek { keep };
                }
            }
        }
    }

    /// The body is over: was the file's part closed?
    pub fn finish(&self) -> Result<(), MultipartError> {
        match self.state {
            State::Done => Ok(()),
            State::Seek { keep: true } => Err(MultipartError::Truncated),
            _ => Err(MultipartError::NoFile(self.field.clone())),
        }
    }

    /// `Content-Disposition: form-data; name="FIELD"; filename="..."`.
    fn is_the_file(&self, head: &[u8]) -> bool {
        let head = String::from_utf8_lossy(head).to_ascii_lowercase();
        let name = format!("; name=\"{}\"", self.field.to_ascii_lowercase());
        head.lines().any(|l| {
            l.starts_with("content-disposition:") && l.contains(&name) && l.contains("filename=")
        })
    }
}

/// Where `needle` starts in `hay` (whole: a match cut by the end is not one).
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let mut start = 0;
    while let Some(p) = hay[start..].iter().position(|&b| b == needle[0]) {
        let i = start + p;
        if hay.len() - i < needle.len() {
            return None;
        }
        if &hay[i..i + needle.len()] == needle {
            return Some(i);
        }
        start = i + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(file: &[u8]) -> Vec<u8> {
        let mut body = b"--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--XyZ\r\nContent-Disposition: form-data; name=\"bundle\"; filename=\"b.raucb\"\r\nContent-Type: application/octet-stream\r\n\r\n".to_vec();
        body.extend_from_slice(file);
        body.extend_from_slice(b"\r\n--XyZ--\r\n");
        body
    }

    /// Any cut of the body into chunks gives the same file, with bytes
    /// that look like the start of a delimiter kept.
    #[test]
    fn the_file_comes_out_whole_whatever_the_chunks() {
        // Bytes that begin like the delimiter, cut at every length short of it.
        let file: Vec<u8> = (0..5000u32)
            .flat_map(|i| match i % 97 {
                n @ 0..=5 => b"\r\n--XyZ"[..=n as usize].to_vec(),
                _ => vec![(i % 251) as u8],
            })
            .collect();
        assert_eq!(find(&file, b"\r\n--XyZ"), None);
        let body = form(&file);
        assert_eq!(boundary("multipart/form-data; boundary=XyZ"), Some("XyZ"));
        for size in [1, 2, 7, 9, 64, 1000, body.len()] {
            let mut p = FilePart::new("XyZ", "bundle");
            let mut got = Vec::new();
            for c in body.chunks(size) {
                got.extend(p.feed(c).unwrap());
            }
            p.finish().unwrap();
            assert_eq!(got, file, "chunks of {size}");
        }
    }

    #[test]
    fn a_form_without_the_file_or_cut_short_is_refused() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"other\"; filename=\"bundle\"\r\n\r\nx\r\n--XyZ--\r\n";
        let mut p = FilePart::new("XyZ", "bundle");
        assert_eq!(p.feed(body), Err(MultipartError::NoFile("bundle".into())));
        let body = form(b"abc");
        let mut p = FilePart::new("XyZ", "bundle");
        p.feed(&body[..body.len() - 12]).unwrap();
        assert_eq!(p.finish(), Err(MultipartError::Truncated));
        assert_eq!(boundary("application/octet-stream"), None);
        let mut p = FilePart::new("XyZ", "bundle");
        assert_eq!(
            p.feed(&[b"--XyZ\r\n".as_slice(), &[b'a'; 9000]].concat()),
            Err(MultipartError::HeadTooLong)
        );
    }
}
