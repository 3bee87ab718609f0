//! The request cycle of one connection on the I/O thread: completing a
//! head, framing and admission, reading the body, handing the request to a
//! worker, queueing its response, and what follows it (next request or
//! close). Part of the I/O loop; nothing here blocks.

use std::time::Instant;

use super::super::chunked::ChunkedDecoder;
use super::super::conn::{After, BodyReader, BodyState, Pending, Phase};
use super::super::head::{self, Framing, HeadError};
use super::super::pool::{Job, Reply, Token};
use super::super::wire::{Framed, Output};
use super::super::Refusal;
use super::{Loop, LINGER};
use crate::http::percent;
use crate::http::{Body, Method, Request, Response, Status};

impl Loop {
    /// Moves the connection on with the bytes in its buffer: completes a
    /// head, feeds a body.
    pub(super) fn process(&mut self, token: Token, eof: bool) {
        // Each round consumes input or changes phase; a bound keeps a bug
        // from spinning the I/O thread.
        for _ in 0..64 {
            let now = Instant::now();
            let max_body = self.limits.max_body_bytes;
            let Some(conn) = self.conn_mut(token) else {
                return;
            };
            match &mut conn.phase {
                Phase::Idle | Phase::Head => {
                    if conn.io.handshaking() {
                        if eof {
                            self.close(token, Some(Refusal::TlsHandshake));
                        }
                        return;
                    }
                    if conn.buf.is_empty() {
                        if eof {
                            self.close(token, None);
                        }
                        return;
                    }
                    if matches!(conn.phase, Phase::Idle) {
                        conn.phase = Phase::Head;
                        conn.since = now;
                        let d = Some((
                            now + self.limits.read_header_timeout,
                            Some(Refusal::HeadTimeout),
                        ));
                        self.set_deadline(token, d);
                        continue;
                    }
                    let from = conn.scanned;
                    conn.scanned = conn.buf.len();
                    if !head::may_be_complete(&conn.buf, from)
                        && conn.buf.len() < head::MAX_HEAD_BYTES
                    {
                        if eof {
                            self.close(token, None);
                        }
                        return;
                    }
                    match head::parse(&conn.buf) {
                        Ok(None) => {
                            if eof {
                                self.close(token, None);
                            }
                            return;
                        }
                        Err(e) => {
                            self.refuse_head(token, e);
                            return;
                        }
                        Ok(Some((head, n))) => {
                            conn.buf.drain(..n);
                            conn.scanned = 0;
                            self.start_request(token, head);
                        }
                    }
                }
                Phase::Body(state) => {
                    let (used, done) = match &mut state.reader {
                        BodyReader::Length(left) => {
                            let take = usize::try_from(*left)
                                .unwrap_or(usize::MAX)
                                .min(conn.buf.len());
                            state.body.extend_from_slice(&conn.buf[..take]);
                            *left -= take as u64;
                            (take, *left == 0)
                        }
                        BodyReader::Chunked(decoder) => {
                            match decoder.feed(&conn.buf, &mut state.body) {
                                Ok(n) => (n, decoder.is_done()),
                                Err(e) => {
                                    self.refuse_head(token, HeadError::BadFraming(e.as_str()));
                                    return;
                                }
                            }
                        }
                    };
                    conn.buf.drain(..used);
                    let over = max_body > 0 && state.body.len() as u64 > max_body;
                    if over || done {
                        let framed = state.framed;
                        let Phase::Body(state) =
                            std::mem::replace(&mut conn.phase, Phase::Handling(framed))
                        else {
                            return;
                        };
                        let BodyState {
                            mut req,
                            mut framed,
                            body,
                            ..
                        } = *state;
                        if over {
                            // The rest of the body is never read.
                            framed.close = true;
                            conn.phase = Phase::Handling(framed);
                            req.body = Body::TooLarge { limit: max_body };
                            self.service.refused(Refusal::BodyTooLarge);
                        } else {
                            req.body = Body::Complete(body);
                        }
                        self.set_deadline(token, None);
                        self.submit(
                            token,
                            Job::Handle {
                                token,
                                req,
                                admitted: true,
                            },
                        );
                        return;
                    }
                    if eof {
                        // The client gave up; nothing was acknowledged.
                        self.close(token, None);
                    }
                    return;
                }
                _ => return,
            }
        }
    }

    /// A complete head: answer URL errors at once, send bodiless requests
    /// to a worker, and heads with a body to admission.
    fn start_request(&mut self, token: Token, head: head::Head) {
        let stopping = self.stopping.is_some();
        let Some(conn) = self.conn_mut(token) else {
            return;
        };
        let framed = Framed {
            head_only: head.method == "HEAD",
            close: !head.keep_alive || stopping,
            http10: head.minor_version == 0,
        };
        let raw_url = head.target;
        let raw_path = raw_url.split('?').next().unwrap_or("");
        let path = match percent::decode(raw_path.as_bytes()) {
            Ok(p) => p,
            Err(bad) => {
                let e = HeadError::BadEscape(bad.to_vec());
                let mut framed = framed;
                // An unread body would be taken for the next request.
                framed.close |= head.framing != Framing::Empty;
                conn.phase = Phase::Handling(framed);
                self.service.refused(e.refusal());
                self.respond(token, Response::error(e.status(), &e.message()));
                return;
            }
        };
        let req = Request {
            method: Method::parse(&head.method),
            path,
            raw_url,
            headers: head.headers,
            body: Body::Complete(Vec::new()),
            remote_addr: Some(conn.peer),
        };
        self.set_deadline(token, None);
        let Some(conn) = self.conn_mut(token) else {
            return;
        };
        if head.framing == Framing::Empty {
            conn.phase = Phase::Handling(framed);
            self.submit(
                token,
                Job::Handle {
                    token,
                    req,
                    admitted: false,
                },
            );
        } else {
            conn.phase = Phase::Admitting(Pending {
                framing: head.framing,
                expect_continue: head.expect_continue,
                framed,
            });
            if self.service.admits_every_head() {
                self.on_admitted(token, req, Ok(()));
            } else {
                self.submit(token, Job::Admit { token, req });
            }
        }
    }

    fn submit(&mut self, token: Token, job: Job) {
        if self.jobs.send(job).is_err() {
            // The pool is gone: shutting down.
            self.close(token, None);
        }
    }

    pub(super) fn take_replies(&mut self) {
        while let Ok(reply) = self.replies.rx.try_recv() {
            match reply {
                Reply::Admitted {
                    token,
                    req,
                    verdict,
                } => self.on_admitted(token, req, verdict),
                Reply::Handled { token, resp } => self.respond(token, resp),
            }
            // `respond`/`on_admitted` may have queued output or new phases.
        }
    }

    fn on_admitted(&mut self, token: Token, mut req: Request, verdict: Result<(), Response>) {
        let stopping = self.stopping.is_some();
        let max_body = self.limits.max_body_bytes;
        let read_timeout = self.limits.read_timeout;
        let Some(conn) = self.conn_mut(token) else {
            return;
        };
        let Phase::Admitting(pending) = std::mem::replace(&mut conn.phase, Phase::Writing) else {
            return;
        };
        let mut framed = pending.framed;
        if stopping {
            // Its body would arrive after shutdown began: not acknowledged.
            self.close(token, None);
            return;
        }
        if let Err(resp) = verdict {
            // Refused on its head: the body is never read.
            framed.close = true;
            conn.phase = Phase::Handling(framed);
            self.respond(token, resp);
            return;
        }
        if let Framing::Length(n) = pending.framing {
            if max_body > 0 && n > max_body {
                framed.close = true;
                conn.phase = Phase::Handling(framed);
                req.body = Body::TooLarge { limit: max_body };
                self.service.refused(Refusal::BodyTooLarge);
                self.submit(
                    token,
                    Job::Handle {
                        token,
                        req,
                        admitted: true,
                    },
                );
                return;
            }
        }
        if pending.expect_continue {
            conn.outs
                .push_back(Output::raw(b"HTTP/1.1 100 Continue\r\n\r\n".to_vec()));
            conn.after = After::Nothing;
        }
        let reader = match pending.framing {
            Framing::Length(n) => BodyReader::Length(n),
            _ => BodyReader::Chunked(ChunkedDecoder::new()),
        };
        conn.phase = Phase::Body(Box::new(BodyState {
            req,
            framed,
            reader,
            body: Vec::new(),
        }));
        let now = Instant::now();
        conn.since = now;
        self.set_deadline(
            token,
            Some((now + read_timeout, Some(Refusal::BodyTimeout))),
        );
        self.process(token, false);
        self.write(token);
        self.update_interest(token);
    }

    /// Queues the response to the request in progress and starts writing.
    fn respond(&mut self, token: Token, resp: Response) {
        let stopping = self.stopping.is_some();
        let write_timeout = self.limits.write_timeout;
        let Some(conn) = self.conn_mut(token) else {
            return;
        };
        let Phase::Handling(mut framed) = std::mem::replace(&mut conn.phase, Phase::Writing) else {
            // Not waiting for one (closed and reused slots are filtered by
            // the token's generation).
            return;
        };
        framed.close |= stopping;
        conn.outs.push_back(Output::response(resp, framed));
        conn.after = if framed.close {
            After::Close
        } else {
            After::NextRequest
        };
        let now = Instant::now();
        conn.since = now;
        self.set_deadline(
            token,
            Some((now + write_timeout, Some(Refusal::WriteTimeout))),
        );
        self.write(token);
        self.update_interest(token);
    }

    /// The response is written: next request, or close.
    pub(super) fn finish_response(&mut self, token: Token) {
        let now = Instant::now();
        let idle = self.idle_deadline(now);
        let stopping = self.stopping.is_some();
        let Some(conn) = self.conn_mut(token) else {
            return;
        };
        if conn.after == After::Close || stopping {
            conn.io.shutdown_write();
            conn.phase = Phase::Lingering;
            conn.buf = Vec::new();
            if stopping {
                self.close(token, None);
            } else {
                self.set_deadline(token, Some((now + LINGER, None)));
            }
            return;
        }
        conn.phase = Phase::Idle;
        conn.since = now;
        conn.after = After::Nothing;
        // Drop a large buffer kept from a big request.
        if conn.buf.is_empty() && conn.buf.capacity() > 4096 {
            conn.buf = Vec::new();
        }
        let pipelined = !conn.buf.is_empty();
        self.set_deadline(token, idle);
        // Pipelined bytes may already hold the next head.
        if pipelined {
            self.ready.push(token);
        }
    }

    /// Answers a malformed head or body framing and closes.
    fn refuse_head(&mut self, token: Token, e: HeadError) {
        self.refuse(token, e.status(), &e.message(), e.refusal());
    }

    /// Answers `status` with `message` and closes, whatever the phase.
    fn refuse(&mut self, token: Token, status: Status, message: &str, refusal: Refusal) {
        self.service.refused(refusal);
        let Some(conn) = self.conn_mut(token) else {
            return;
        };
        conn.phase = Phase::Handling(Framed {
            head_only: false,
            close: true,
            http10: false,
        });
        self.respond(token, Response::plain(status, message));
    }
}
