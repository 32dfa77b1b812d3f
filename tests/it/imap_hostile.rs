//! A broken or hostile IMAP server cannot exhaust the probe's memory. No real server misbehaves on
//! purpose, so this is the one place a scripted server stands in: a few lines of IMAP over plain TCP that
//! log the probe in and then answer one command with a flood — `UID FETCH` responses that never end, a
//! literal of hundreds of megabytes, `SEARCH` results that never end. The real binary runs against it (and the
//! AWS twin for the trigger) as a child process; its peak RSS is what the kernel counted (`wait4`'s
//! `ru_maxrss`), and a child that passes 1 GiB is killed before it can hurt the machine.

use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The peak the probe must stay under, whatever the server sends: its own few tens of MB plus what the
/// byte budgets allow, with room to spare.
const CEILING_KIB: u64 = 200 * 1024;

/// Where the guard kills the child: well above the ceiling, well below what would trouble the machine.
const KILL_AT_KIB: u64 = 1024 * 1024;

/// What the scripted server does wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flood {
    /// Answers `UID FETCH` with FETCH responses for ever, never the tagged OK.
    EndlessFetch,
    /// Answers `UID FETCH` with a 400 MB literal, then streams its bytes.
    HugeLiteral,
    /// Answers `UID SEARCH` (the sweep of late mail, before the trigger) with `SEARCH` lines for ever, each
    /// with a thousand new UIDs.
    EndlessSearch,
}

/// One IMAP session of the scripted server: enough of RFC 3501 to log in, list INBOX, report five new
/// messages after the baseline (none before, except for the sweep's flood), then the flood.
async fn session(socket: TcpStream, flood: Flood) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"* OK [CAPABILITY IMAP4rev1 IDLE UIDPLUS] scripted server ready\r\n").await?;
    // UIDNEXT at the baseline: the sweep only searches a folder with older mail.
    let baseline_next = if flood == Flood::EndlessSearch { 6 } else { 1 };
    while let Some(line) = lines.next_line().await? {
        let Some((tag, command)) = line.split_once(' ') else { continue };
        let upper = command.to_ascii_uppercase();
        let reply = if upper.starts_with("LOGIN") || upper.starts_with("NOOP") {
            format!("{tag} OK done\r\n")
        } else if upper.starts_with("CAPABILITY") {
            format!("* CAPABILITY IMAP4rev1 IDLE UIDPLUS\r\n{tag} OK done\r\n")
        } else if upper.starts_with("LIST") {
            format!("* LIST (\\HasNoChildren) \"/\" INBOX\r\n{tag} OK done\r\n")
        } else if upper.starts_with("STATUS") {
            format!("* STATUS INBOX (UIDNEXT {baseline_next} UIDVALIDITY 7)\r\n{tag} OK done\r\n")
        } else if upper.starts_with("EXAMINE") || upper.starts_with("SELECT") {
            format!(
                "* 5 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 6] ok\r\n\
                 {tag} OK [READ-ONLY] done\r\n"
            )
        } else if upper.starts_with("UID SEARCH") && flood == Flood::EndlessSearch {
            let mut n = 1u64;
            loop {
                let mut line = String::from("* SEARCH");
                for _ in 0..1000 {
                    line.push_str(&format!(" {n}"));
                    n += 1;
                }
                line.push_str("\r\n");
                write.write_all(line.as_bytes()).await?;
            }
        } else if upper.starts_with("UID SEARCH") {
            format!("* SEARCH\r\n{tag} OK done\r\n")
        } else if upper.starts_with("UID FETCH") && flood == Flood::EndlessFetch {
            let mut n = 1u64;
            loop {
                let mut chunk = String::new();
                for _ in 0..100 {
                    chunk.push_str(&format!(
                        "* {n} FETCH (UID {n} RFC822.SIZE 2000 INTERNALDATE \"01-Jan-2024 00:00:00 +0000\" ENVELOPE \
                         (NIL \"Your code\" ((NIL NIL \"noreply\" \"example.com\")) NIL NIL ((NIL NIL \"x\" \
                         \"mail.test\")) NIL NIL NIL NIL))\r\n"
                    ));
                    n += 1;
                }
                write.write_all(chunk.as_bytes()).await?;
            }
        } else if upper.starts_with("UID FETCH") {
            write.write_all(b"* 1 FETCH (UID 1 BODY[] {400000000}\r\n").await?;
            let filler = vec![b'x'; 1 << 20];
            for _ in 0..400 {
                write.write_all(&filler).await?;
            }
            format!(")\r\n{tag} OK done\r\n")
        } else if upper.starts_with("IDLE") {
            write.write_all(b"+ idling\r\n").await?;
            let _done = lines.next_line().await?;
            format!("{tag} OK done\r\n")
        } else if upper.starts_with("LOGOUT") {
            write.write_all(format!("* BYE\r\n{tag} OK done\r\n").as_bytes()).await?;
            return Ok(());
        } else {
            format!("{tag} BAD not scripted\r\n")
        };
        write.write_all(reply.as_bytes()).await?;
    }
    Ok(())
}

/// Serves `flood` on 127.0.0.1:0; returns the port.
async fn scripted_server(flood: Flood) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the scripted server");
    let port = listener.local_addr().expect("local addr").port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            // A write error is the probe hanging up on the flood: the session ends.
            tokio::spawn(async move { session(socket, flood).await.ok() });
        }
    });
    port
}

fn probe_file(dir: &Path, endpoint: &str, port: u16) -> std::path::PathBuf {
    let path = dir.join(format!("hostile-{port}.toml"));
    std::fs::write(dir.join("imap-password"), "not-a-secret\n").expect("write password");
    let text = format!(
        "pool_id = \"us-east-1_knEL7cqS3\"\nusername = \"probe-prod-fcp\"\ntimeout = \"60s\"\n\
         [aws]\nendpoint_url = \"{endpoint}\"\n\
         [imap]\nhost = \"127.0.0.1\"\nport = {port}\ntls = false\nusername = \"probe@mail.test\"\n\
         password = {{ file = {pw} }}\npoll_interval = \"250ms\"\n\
         [cloudwatch]\nenabled = false\n",
        pw = testkit::rig::toml_path(&dir.join("imap-password")),
    );
    std::fs::write(&path, text).expect("write probe file");
    path
}

/// VmHWM (peak resident set, KiB) of a running process, while it runs.
fn vm_hwm(pid: libc::pid_t) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs the probe binary to its end (killed past [`KILL_AT_KIB`] or after two minutes: guards, not
/// timings); returns its exit code (`None` when killed), its stdout and its peak RSS in KiB.
// The child is reaped by `wait4` below, which also reports its peak RSS; std's `wait` cannot.
#[allow(clippy::zombie_processes)]
fn run_measured(config: &Path) -> (Option<i32>, String, u64) {
    let mut child = Command::new(crate::PROBE)
        .args(["--config", config.to_str().expect("utf-8 path"), "--format", "json"])
        .env("AWS_ACCESS_KEY_ID", "AKIDTESTTESTTESTTEST")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start probe");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let pid = child.id() as libc::pid_t;
    let started = Instant::now();
    let (code, peak) = loop {
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `pid` is our own child, not yet reaped; status and usage point to live locals.
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if reaped == pid {
            let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
            // Linux counts ru_maxrss in KiB.
            break (code, usage.ru_maxrss as u64);
        }
        assert_eq!(reaped, 0, "wait4: {}", std::io::Error::last_os_error());
        if vm_hwm(pid).is_some_and(|kib| kib > KILL_AT_KIB) || started.elapsed() > Duration::from_secs(120) {
            // SAFETY: signalling our own child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    (code, reader.join().expect("stdout reader"), peak)
}

/// Against each flood the run ends UNKNOWN — `mailbox_lost` after the trigger, `mailbox_unavailable` (and
/// no mail sent) when the flood comes before it — saying the server sent more than the probe reads, and
/// the probe's peak RSS stays under 200 MiB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_imap_server_ends_the_run_unknown_within_bounded_memory() {
    let rig = testkit::Rig::builder().build().await;
    // (flood, the diagnosis, whether the trigger sent a mail)
    let cases = [
        (Flood::EndlessFetch, "mailbox_lost", true),
        (Flood::HugeLiteral, "mailbox_lost", true),
        (Flood::EndlessSearch, "mailbox_unavailable", false),
    ];
    for (flood, code, sends) in cases {
        let sent_before = rig.control().sent().len();
        let port = scripted_server(flood).await;
        let config = probe_file(rig.dir(), &rig.endpoint_url(), port);
        let (exit, stdout, peak_kib) = tokio::task::spawn_blocking(move || run_measured(&config)).await.unwrap();
        eprintln!("{flood:?}: exit {exit:?}, peak RSS {} MiB ({peak_kib} KiB)", peak_kib / 1024);
        assert!(peak_kib < CEILING_KIB, "{flood:?}: the probe's peak RSS was {} MiB", peak_kib / 1024);
        assert_eq!(exit, Some(3), "{flood:?}: the run ends UNKNOWN:\n{stdout}");
        let report: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}:\n{stdout}"));
        assert_eq!(report["diagnosis"]["code"], code, "{flood:?}:\n{stdout}");
        assert!(stdout.contains("exceeded the"), "{flood:?}: the report says the server sent too much:\n{stdout}");
        assert_eq!(rig.control().sent().len() > sent_before, sends, "{flood:?}: whether a mail was sent");
    }
    rig.shutdown().await;
}
