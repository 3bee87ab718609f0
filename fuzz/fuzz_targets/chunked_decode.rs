//! The chunked decoder: never panics; fed in pieces (split points from the
//! first input byte) it gives exactly what it gives fed at once; it never
//! outputs more than it consumed, and a decoded body re-encoded as chunks
//! decodes to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushgate::server::chunked::{ChunkError, ChunkedDecoder};

#[derive(Debug, PartialEq)]
struct Outcome {
    result: Result<usize, ChunkError>,
    out: Vec<u8>,
    done: bool,
}

fn at_once(input: &[u8]) -> Outcome {
    let mut d = ChunkedDecoder::new();
    let mut out = Vec::new();
    let result = d.feed(input, &mut out);
    Outcome {
        result,
        out,
        done: d.is_done(),
    }
}

fn in_pieces(input: &[u8], step: usize) -> Outcome {
    let mut d = ChunkedDecoder::new();
    let mut out = Vec::new();
    let mut used = 0;
    for piece in input.chunks(step) {
        match d.feed(piece, &mut out) {
            Ok(n) => {
                used += n;
                if d.is_done() {
                    break;
                }
            }
            Err(e) => {
                return Outcome {
                    result: Err(e),
                    out,
                    done: d.is_done(),
                }
            }
        }
    }
    Outcome {
        result: Ok(used),
        out,
        done: d.is_done(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    let whole = at_once(input);
    if let Ok(n) = whole.result {
        assert!(n <= input.len());
        assert!(whole.out.len() <= n);
        assert!(whole.done || n == input.len());
    }
    let step = usize::from(control % 16) + 1;
    assert_eq!(in_pieces(input, step), whole, "step {step}");
    if whole.done {
        let mut again = Vec::new();
        for chunk in whole.out.chunks(usize::from(control) + 1) {
            again.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            again.extend_from_slice(chunk);
            again.extend_from_slice(b"\r\n");
        }
        again.extend_from_slice(b"0\r\n\r\n");
        let decoded = at_once(&again);
        assert!(decoded.done);
        assert_eq!(decoded.out, whole.out);
        assert_eq!(decoded.result, Ok(again.len()));
    }
});
