//! How much an IMAP server may send: a byte budget per command, enforced under the protocol parser, so a
//! broken or hostile server cannot make the probe hold more than a bounded amount of memory.
//!
//! The IMAP client (async-imap) buffers each response whole before parsing it, and reserves the room a
//! literal announces (`{N}` CRLF, RFC 3501 §4.3) before its bytes arrive — up to 512 MiB per response.
//! An answer that never ends (`UID FETCH` responses forever, a `SEARCH` line without end) is collected
//! for as long as the server keeps sending. [`Budgeted`] sits between the socket and the client: before each
//! command the session [`Budget::allow`]s a number of bytes for its answer; a read beyond it, or a literal
//! announced larger than what is left, fails the read instead of passing the bytes on. From then on every
//! read fails: the connection is out of step with the protocol and is dropped, never reused.
//!
//! The budgets are far above what a real server sends for the probe's commands (see the constants) and the
//! probe asks in bounded steps — envelopes in batches, one header, one message of at most
//! `max_message_size` — so a real mailbox never meets them.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The answer to a small command (greeting, LOGIN, CAPABILITY, STATUS, EXAMINE, SELECT, NOOP, IDLE, STORE,
/// EXPUNGE, COPY, MOVE, LOGOUT): a few hundred bytes from a real server.
pub const ANSWER: u64 = 1024 * 1024;

/// The answer to LIST: one line per folder, so an account with thousands of folders fits.
pub const LIST_ANSWER: u64 = 4 * 1024 * 1024;

/// The answer to UID SEARCH: about 90,000 UIDs; the probe's searches match its own mail only.
pub const SEARCH_ANSWER: u64 = 1024 * 1024;

/// The answer to one batch of `(UID RFC822.SIZE INTERNALDATE ENVELOPE)`: about 160 KiB per message of
/// [`super::imap::ENVELOPE_BATCH`]; a real envelope is well under 1 KiB.
pub const ENVELOPES_ANSWER: u64 = 4 * 1024 * 1024;

/// Room around a fetched header or message for the FETCH response's own syntax and for untagged responses
/// (EXISTS, EXPUNGE) that arrive with it.
pub const FRAMING: u64 = 64 * 1024;

#[derive(Debug)]
struct State {
    /// The command whose answer is being read, for the error.
    command: &'static str,
    limit: u64,
    left: u64,
    /// Set once the budget was exceeded; never cleared.
    tripped: bool,
}

/// The byte budget of one IMAP connection, shared by the session (which sets it per command) and the
/// [`Budgeted`] stream under it (which spends it).
#[derive(Debug, Clone)]
pub struct Budget(Arc<Mutex<State>>);

impl Default for Budget {
    fn default() -> Self {
        Budget(Arc::new(Mutex::new(State { command: "greeting", limit: ANSWER, left: ANSWER, tripped: false })))
    }
}

impl Budget {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding this lock (plain arithmetic); recover regardless.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next `limit` bytes read answer `command`.
    pub fn allow(&self, command: &'static str, limit: u64) {
        let mut s = self.lock();
        s.command = command;
        s.limit = limit;
        s.left = limit;
    }

    /// When the budget was exceeded: the command and its limit.
    pub fn exceeded(&self) -> Option<(&'static str, u64)> {
        let s = self.lock();
        s.tripped.then_some((s.command, s.limit))
    }

    fn error(s: &State) -> std::io::Error {
        std::io::Error::other(format!(
            "the answer to {} exceeds the {} the probe reads for it",
            s.command,
            crate::size::show(s.limit)
        ))
    }
}

/// Where the scan of the server's bytes is: literals are found by their announcement and skipped whole, so
/// a message that contains `{99999}` CRLF in its text is not mistaken for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Scan {
    #[default]
    Text,
    /// After `{`, with the digits so far (`None` before the first).
    Open(Option<u64>),
    /// After `{N}` (or `{N+}`).
    Closed(u64),
    /// After `{N}` CR.
    ClosedCr(u64),
    /// Inside a literal, with this many bytes to go.
    Literal(u64),
}

impl Scan {
    /// Feeds bytes as the server sent them; returns the largest literal announced in them.
    fn feed(&mut self, bytes: &[u8]) -> u64 {
        let mut largest = 0;
        let mut i = 0;
        while i < bytes.len() {
            if let Scan::Literal(left) = *self {
                let skip = left.min((bytes.len() - i) as u64);
                i += skip as usize;
                *self = if skip == left { Scan::Text } else { Scan::Literal(left - skip) };
                continue;
            }
            let b = bytes[i];
            i += 1;
            *self = match (*self, b) {
                (Scan::Open(n), b'0'..=b'9') => {
                    Scan::Open(Some(n.unwrap_or(0).saturating_mul(10).saturating_add(u64::from(b - b'0'))))
                }
                (Scan::Open(Some(n)), b'}') => Scan::Closed(n),
                // LITERAL+ (RFC 7888) `{N+}`: a client's form, accepted from a server all the same.
                (Scan::Open(Some(n)), b'+') => Scan::Open(Some(n)),
                (Scan::Closed(n), b'\r') => Scan::ClosedCr(n),
                (Scan::Closed(n) | Scan::ClosedCr(n), b'\n') => {
                    largest = largest.max(n);
                    if n == 0 { Scan::Text } else { Scan::Literal(n) }
                }
                (_, b'{') => Scan::Open(None),
                _ => Scan::Text,
            };
        }
        largest
    }
}

/// A byte stream that reads no more than its [`Budget`] allows (see the module doc). Writes pass through.
#[derive(Debug)]
pub struct Budgeted<S> {
    inner: S,
    budget: Budget,
    scan: Scan,
}

impl<S> Budgeted<S> {
    pub fn new(inner: S, budget: Budget) -> Budgeted<S> {
        Budgeted { inner, budget, scan: Scan::default() }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Budgeted<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if let Some(e) = {
            let s = this.budget.lock();
            s.tripped.then(|| Budget::error(&s))
        } {
            return Poll::Ready(Err(e));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        let fresh = &buf.filled()[before..];
        let announced = this.scan.feed(fresh);
        let mut s = this.budget.lock();
        let over = fresh.len() as u64 > s.left || announced > s.left;
        if over {
            s.tripped = true;
            let e = Budget::error(&s);
            drop(s);
            buf.set_filled(before);
            return Poll::Ready(Err(e));
        }
        s.left -= fresh.len() as u64;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Budgeted<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// Literal announcements, found across chunk boundaries, and what is inside a literal ignored.
    #[test]
    fn literals_are_found_by_their_announcement_only() {
        /// (case, chunks as the server sends them, largest literal announced per chunk)
        type Case = (&'static str, &'static [&'static [u8]], &'static [u64]);
        let cases: [Case; 7] = [
            ("a fetch literal", &[b"* 1 FETCH (BODY[] {12}\r\nFrom: a\r\n\r\nx)\r\n"], &[12]),
            ("split announcement", &[b"* 1 FETCH (BODY[] {40", b"00000}", b"\r", b"\n"], &[0, 0, 0, 4_000_000]),
            ("inside a literal", &[b"{20}\r\nsee {99999999}\r\n!!)\r\n", b"{3}\r\nabc"], &[20, 3]),
            ("braces in a quoted string", &[b"* OK \"{5}\" done\r\n"], &[0]),
            ("LITERAL+ form", &[b"{7+}\r\n1234567"], &[7]),
            ("empty braces", &[b"{}\r\n{0}\r\n"], &[0]),
            ("literal8", &[b"BINARY[] ~{9}\r\n123456789"], &[9]),
        ];
        for (case, chunks, want) in cases {
            let mut scan = Scan::default();
            let got: Vec<u64> = chunks.iter().map(|c| scan.feed(c)).collect();
            assert_eq!(got, want, "{case}");
        }
    }

    #[tokio::test]
    async fn reads_stop_at_the_budget_and_stay_stopped() {
        let budget = Budget::default();
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let mut stream = Budgeted::new(client, budget.clone());
        budget.allow("NOOP", 10);
        server.write_all(b"0123456789").await.unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(stream.read(&mut buf).await.unwrap(), 10, "within the budget");
        server.write_all(b"x").await.unwrap();
        let e = stream.read(&mut buf).await.unwrap_err();
        assert_eq!(e.to_string(), "the answer to NOOP exceeds the 10 bytes the probe reads for it");
        assert_eq!(budget.exceeded(), Some(("NOOP", 10)));
        budget.allow("LOGOUT", 1000);
        assert!(stream.read(&mut buf).await.is_err(), "a stream out of step is never read again");
    }

    #[tokio::test]
    async fn a_literal_larger_than_the_budget_fails_before_its_bytes_arrive() {
        let budget = Budget::default();
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let mut stream = Budgeted::new(client, budget.clone());
        budget.allow("UID FETCH", 1000);
        server.write_all(b"* 1 FETCH (UID 1 BODY[] {400000000}\r\n").await.unwrap();
        let mut buf = [0u8; 64];
        assert!(stream.read(&mut buf).await.is_err());
        assert_eq!(budget.exceeded(), Some(("UID FETCH", 1000)));
    }
}
