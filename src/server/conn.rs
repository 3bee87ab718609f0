//! One client connection: its transport (plain TCP or TLS over rustls'
//! sans-IO `ServerConnection`), input buffer, phase and deadline. The I/O
//! thread drives it; nothing here blocks.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Instant;

use super::chunked::ChunkedDecoder;
use super::head::Framing;
use super::wire::{Framed, Output};
use super::Refusal;
use crate::http::Request;

/// Most plaintext handed to rustls per step, so one slow reader does not
/// make rustls buffer a whole scrape.
const TLS_WRITE_STEP: usize = 64 * 1024;

/// Most pieces of a response handed to one `writev`: enough that a body of
/// ~1 KB pieces (the JSON API, the web UI) goes out in tens of system calls
/// per megabyte instead of a thousand, well below the kernel's limit (1024).
const WRITE_SLICES: usize = 64;

pub enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

pub struct TlsStream {
    pub sock: TcpStream,
    pub tls: rustls::ServerConnection,
}

/// What a read brought.
#[derive(Debug, Default)]
pub struct ReadOutcome {
    pub bytes: usize,
    /// The peer ended its side (FIN, or TLS close_notify).
    pub eof: bool,
}

impl Transport {
    pub fn fd(&self) -> RawFd {
        match self {
            Transport::Plain(s) => s.as_raw_fd(),
            Transport::Tls(t) => t.sock.as_raw_fd(),
        }
    }

    /// True while a TLS handshake is still under way.
    pub fn handshaking(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            Transport::Tls(t) => t.tls.is_handshaking(),
        }
    }

    /// True if TLS records wait to be written (handshake, alerts).
    pub fn wants_write(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            Transport::Tls(t) => t.tls.wants_write(),
        }
    }

    /// Reads what the socket has now (one `read` of at most `scratch.len()`
    /// bytes for plain TCP; one TLS read and its decrypted plaintext) and
    /// appends it to `buf`. An error means the connection is unusable.
    pub fn read(&mut self, buf: &mut Vec<u8>, scratch: &mut [u8]) -> io::Result<ReadOutcome> {
        let mut outcome = ReadOutcome::default();
        match self {
            Transport::Plain(sock) => match sock.read(scratch) {
                Ok(0) => outcome.eof = true,
                Ok(n) => {
                    buf.extend_from_slice(&scratch[..n]);
                    outcome.bytes = n;
                }
                Err(e) if retry(&e) => {}
                Err(e) => return Err(e),
            },
            Transport::Tls(t) => {
                match t.tls.read_tls(&mut t.sock) {
                    Ok(0) => outcome.eof = true,
                    Ok(_) => {}
                    Err(e) if retry(&e) => {}
                    Err(e) => return Err(e),
                }
                if let Err(e) = t.tls.process_new_packets() {
                    // rustls queued an alert; the caller flushes it and closes.
                    let _ = t.tls.write_tls(&mut t.sock);
                    return Err(io::Error::new(io::ErrorKind::InvalidData, e));
                }
                loop {
                    match t.tls.reader().read(scratch) {
                        Ok(0) => {
                            outcome.eof = true;
                            break;
                        }
                        Ok(n) => {
                            buf.extend_from_slice(&scratch[..n]);
                            outcome.bytes += n;
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                            outcome.eof = true;
                            break;
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        Ok(outcome)
    }

    /// Writes pending TLS records, then as much of `outs` as the socket
    /// takes now. `Ok` also when the socket is full (write readiness will
    /// bring us back).
    pub fn write(&mut self, outs: &mut VecDeque<Output>) -> io::Result<()> {
        loop {
            if let Transport::Tls(t) = self {
                while t.tls.wants_write() {
                    match t.tls.write_tls(&mut t.sock) {
                        Ok(_) => {}
                        Err(e) if retry(&e) => return Ok(()),
                        Err(e) => return Err(e),
                    }
                }
            }
            let Some(out) = outs.front_mut() else {
                return Ok(());
            };
            let written = match self {
                Transport::Plain(sock) => {
                    let mut slices = [IoSlice::new(&[]); WRITE_SLICES];
                    match out.next_slices(&mut slices) {
                        0 => None,
                        filled => match sock.write_vectored(&slices[..filled]) {
                            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                            Ok(n) => Some(n),
                            Err(e) if retry(&e) => return Ok(()),
                            Err(e) => return Err(e),
                        },
                    }
                }
                Transport::Tls(t) => match out.next() {
                    Some(bytes) => {
                        let step = bytes.len().min(TLS_WRITE_STEP);
                        Some(t.tls.writer().write(&bytes[..step])?)
                    }
                    None => None,
                },
            };
            match written {
                Some(n) => out.advance(n),
                None => {
                    outs.pop_front();
                }
            }
        }
    }

    /// Ends our side: TLS close_notify (best effort), then a TCP half-close.
    pub fn shutdown_write(&mut self) {
        match self {
            Transport::Plain(sock) => {
                let _ = sock.shutdown(Shutdown::Write);
            }
            Transport::Tls(t) => {
                t.tls.send_close_notify();
                while t.tls.wants_write() {
                    if t.tls.write_tls(&mut t.sock).is_err() {
                        break;
                    }
                }
                let _ = t.sock.shutdown(Shutdown::Write);
            }
        }
    }
}

fn retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// Where a connection is in its request cycle.
pub enum Phase {
    /// Waiting for the first byte of a head (or of the TLS handshake).
    Idle,
    /// Some head bytes (or a TLS handshake) under way.
    Head,
    /// A head with a body is with a worker for admission; not reading.
    Admitting(Pending),
    /// Reading an admitted body.
    Body(Box<BodyState>),
    /// A complete request is with a worker; not reading.
    Handling(Framed),
    /// Writing a response.
    Writing,
    /// Our side is closed; reading and discarding what the client still
    /// sends for a moment so the kernel does not reset the connection
    /// before the client has read the answer.
    Lingering,
}

impl Phase {
    /// True in the phases that read from the socket.
    pub fn reads(&self) -> bool {
        matches!(
            self,
            Phase::Idle | Phase::Head | Phase::Body(_) | Phase::Lingering
        )
    }
}

/// A head waiting for admission: what reading its body needs.
pub struct Pending {
    pub framing: Framing,
    pub expect_continue: bool,
    pub framed: Framed,
}

pub struct BodyState {
    pub req: Request,
    pub framed: Framed,
    pub reader: BodyReader,
    pub body: Vec<u8>,
}

pub enum BodyReader {
    /// Bytes still to come.
    Length(u64),
    Chunked(ChunkedDecoder),
}

/// What happens once the queued output is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    /// Nothing special (a 100 Continue went out; the body is being read).
    Nothing,
    /// Keep the connection for the next request.
    NextRequest,
    /// Close (after lingering).
    Close,
}

pub struct Conn {
    pub io: Transport,
    pub peer: SocketAddr,
    /// Bytes read and not yet used.
    pub buf: Vec<u8>,
    /// How far `buf` was searched for the end of a head.
    pub scanned: usize,
    pub phase: Phase,
    /// When the current phase began (eviction picks the oldest head).
    pub since: Instant,
    /// When the phase times out, and the refusal it counts (`None`: not one).
    pub deadline: Option<(Instant, Option<Refusal>)>,
    pub outs: VecDeque<Output>,
    pub after: After,
    /// The epoll interest currently registered.
    pub interest: u32,
}

impl Conn {
    pub fn new(io: Transport, peer: SocketAddr, now: Instant) -> Conn {
        Conn {
            io,
            peer,
            buf: Vec::new(),
            scanned: 0,
            phase: Phase::Idle,
            since: now,
            deadline: None,
            outs: VecDeque::new(),
            after: After::Nothing,
            interest: 0,
        }
    }

    /// The epoll interest the connection needs now.
    pub fn wanted_interest(&self) -> u32 {
        let mut events = 0;
        if self.phase.reads() {
            events |= (libc::EPOLLIN | libc::EPOLLRDHUP) as u32;
        }
        if !self.outs.is_empty() || self.io.wants_write() {
            events |= libc::EPOLLOUT as u32;
        }
        events
    }
}
