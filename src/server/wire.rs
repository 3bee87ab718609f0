//! Responses on the wire: the status line and header block, and the
//! pending output of a connection (head, then the body's pieces written
//! straight from the shared buffers, many per system call, never
//! concatenated).

use std::io::IoSlice;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::http::{Response, ResponseBody, Status};
use crate::log;

/// Bodies up to this size are copied behind the head; larger ones and
/// shared pieces are written from where they are.
const SMALL_BODY: usize = 16 * 1024;

/// How the connection continues after a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Framed {
    /// The request was HEAD: headers only, with the GET Content-Length.
    pub head_only: bool,
    /// The connection closes after this response.
    pub close: bool,
    /// The request was HTTP/1.0.
    pub http10: bool,
}

/// What is still to be written for one response.
pub struct Output {
    head: Vec<u8>,
    head_pos: usize,
    body: Option<ResponseBody>,
    piece: usize,
    pos: usize,
}

impl Output {
    /// Interim and server-made answers that are only bytes.
    pub fn raw(bytes: Vec<u8>) -> Output {
        Output {
            head: bytes,
            head_pos: 0,
            body: None,
            piece: 0,
            pos: 0,
        }
    }

    pub fn response(resp: Response, how: Framed) -> Output {
        let mut head = encode_head(&resp, how);
        let mut body = (!how.head_only && !resp.body.is_empty()).then_some(resp.body);
        // A small body goes out with the head in one write (one packet).
        if let Some(ResponseBody::Bytes(bytes)) = &body {
            if bytes.len() <= SMALL_BODY {
                head.extend_from_slice(bytes);
                body = None;
            }
        }
        Output {
            head,
            head_pos: 0,
            body,
            piece: 0,
            pos: 0,
        }
    }

    /// The next bytes to write, or `None` when everything is written.
    pub fn next(&self) -> Option<&[u8]> {
        if self.head_pos < self.head.len() {
            return Some(&self.head[self.head_pos..]);
        }
        let body = self.body.as_ref()?;
        let mut i = self.piece;
        let mut pos = self.pos;
        loop {
            let chunk = chunk(body, i)?;
            if pos < chunk.len() {
                return Some(&chunk[pos..]);
            }
            i += 1;
            pos = 0;
        }
    }

    /// Fills `slices` with the next bytes to write, in order: what is left
    /// of the head, then of the body's pieces (empty ones skipped), as many
    /// as there are slices. Returns how many it filled; 0 when everything
    /// is written. One `write_vectored` then sends many small pieces (a
    /// group's JSON is ~1 KB) in one system call.
    pub fn next_slices<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        let mut filled = 0;
        if self.head_pos < self.head.len() {
            if let Some(slot) = slices.first_mut() {
                *slot = IoSlice::new(&self.head[self.head_pos..]);
                filled = 1;
            }
        }
        let Some(body) = self.body.as_ref() else {
            return filled;
        };
        let (mut i, mut pos) = (self.piece, self.pos);
        while filled < slices.len() {
            let Some(chunk) = chunk(body, i) else {
                break;
            };
            if pos < chunk.len() {
                slices[filled] = IoSlice::new(&chunk[pos..]);
                filled += 1;
            }
            i += 1;
            pos = 0;
        }
        filled
    }

    /// Marks the next `n` bytes (of [`Output::next`] or
    /// [`Output::next_slices`]) as written.
    pub fn advance(&mut self, mut n: usize) {
        let head = n.min(self.head.len() - self.head_pos);
        self.head_pos += head;
        n -= head;
        let Some(body) = self.body.as_ref() else {
            return;
        };
        while let Some(chunk) = chunk(body, self.piece) {
            let left = chunk.len() - self.pos;
            if n < left {
                self.pos += n;
                return;
            }
            n -= left;
            self.piece += 1;
            self.pos = 0;
        }
    }
}

/// Chunk `i` of a body, without copying.
fn chunk(body: &ResponseBody, i: usize) -> Option<&[u8]> {
    match body {
        ResponseBody::Bytes(b) => (i == 0).then_some(b.as_slice()),
        ResponseBody::Pieces(p) => p.get(i).map(|c| &c[..]),
    }
}

/// The status line and headers. Content-Length, Connection and Date are
/// the server's; a handler's header with a CR, LF or NUL is dropped (it
/// could otherwise split the response).
fn encode_head(resp: &Response, how: Framed) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(format!("HTTP/1.1 {}\r\n", resp.status().line()).as_bytes());
    for (name, value) in &resp.headers {
        let reserved = ["content-length", "connection", "date", "transfer-encoding"]
            .iter()
            .any(|r| name.eq_ignore_ascii_case(r));
        if reserved {
            continue;
        }
        let bad = |s: &str| s.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0);
        if name.is_empty() || bad(name) || bad(value) || name.contains(':') {
            log::warn(
                "dropping invalid response header",
                &[("name", &name.escape_debug())],
            );
            continue;
        }
        push_header(&mut out, name, value);
    }
    push_header(&mut out, "Date", &http_date(SystemTime::now()));
    let status = resp.status();
    let bodiless = (Status::CONTINUE..Status::OK).contains(&status)
        || matches!(status, Status::NO_CONTENT | Status::NOT_MODIFIED);
    if !bodiless {
        push_header(&mut out, "Content-Length", &resp.body.len().to_string());
    }
    if how.close && !how.http10 {
        push_header(&mut out, "Connection", "close");
    } else if !how.close && how.http10 {
        push_header(&mut out, "Connection", "keep-alive");
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn push_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// An IMF-fixdate (RFC 9110, section 5.6.7): `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Days to civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn date_format() {
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
    }

    fn drain(mut out: Output, step: usize) -> Vec<u8> {
        let mut all = Vec::new();
        for _ in 0..10_000 {
            let Some(next) = out.next() else {
                return all;
            };
            let n = next.len().min(step);
            all.extend_from_slice(&next[..n]);
            out.advance(n);
        }
        panic!("output never ended");
    }

    #[test]
    fn pieces_are_written_in_order_in_any_step() {
        let pieces: Vec<Arc<[u8]>> = vec![
            Arc::from(&b"abc"[..]),
            Arc::from(&b""[..]),
            Arc::from(&b"de"[..]),
        ];
        let resp = Response::empty(200).with_body(ResponseBody::Pieces(pieces));
        let how = Framed {
            head_only: false,
            close: false,
            http10: false,
        };
        for step in [1, 2, 7, 1000] {
            let bytes = drain(Output::response(resp.clone(), how), step);
            let text = String::from_utf8_lossy(&bytes);
            assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
            assert!(text.contains("\r\nContent-Length: 5\r\n"), "{text}");
            assert!(text.ends_with("\r\n\r\nabcde"), "{text}");
        }
    }

    /// Vectored writes that take any number of bytes, across the head and
    /// any number of pieces, send the same bytes as one-piece writes.
    #[test]
    fn pieces_are_written_in_order_by_vectored_writes() {
        let pieces: Vec<Arc<[u8]>> = ["abc", "", "de", "f", "", "ghij"]
            .iter()
            .map(|p| Arc::from(p.as_bytes()))
            .collect();
        let resp = Response::empty(200).with_body(ResponseBody::Pieces(pieces));
        let how = Framed {
            head_only: false,
            close: false,
            http10: false,
        };
        let whole = drain(Output::response(resp.clone(), how), usize::MAX);
        assert!(whole.ends_with(b"\r\n\r\nabcdefghij"));
        for slots in [1, 2, 3, 64] {
            for step in [1, 2, 5, 9, 1000] {
                let mut out = Output::response(resp.clone(), how);
                let mut sent = Vec::new();
                for _ in 0..10_000 {
                    let mut slices = vec![IoSlice::new(&[]); slots];
                    let filled = out.next_slices(&mut slices);
                    if filled == 0 {
                        break;
                    }
                    // A socket that takes `step` bytes of what it is given.
                    let mut take = step;
                    for slice in &slices[..filled] {
                        let n = slice.len().min(take);
                        sent.extend_from_slice(&slice[..n]);
                        take -= n;
                    }
                    let n = step - take;
                    out.advance(n);
                }
                assert_eq!(sent, whole, "{slots} slices, {step} bytes a write");
            }
        }
    }

    #[test]
    fn head_keeps_length_and_drops_body() {
        let resp = Response::plain(200, "hello");
        let how = Framed {
            head_only: true,
            close: true,
            http10: false,
        };
        let text = String::from_utf8(drain(Output::response(resp, how), 64)).expect("ascii");
        assert!(text.contains("Content-Length: 5\r\n"));
        assert!(text.contains("Connection: close\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn injected_headers_are_dropped() {
        let resp = Response::empty(301).with_header("Location", "/x\r\nSet-Cookie: a=b");
        let how = Framed {
            head_only: false,
            close: false,
            http10: true,
        };
        let text = String::from_utf8(drain(Output::response(resp, how), 64)).expect("ascii");
        assert!(!text.contains("Set-Cookie"), "{text}");
        assert!(text.contains("Connection: keep-alive\r\n"));
    }
}
