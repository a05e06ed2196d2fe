//! Brute-force benchmark of the token endpoint (issue #14): an attacker hammers one client id
//! with wrong secrets from one address while the owner asks for tokens from another, then a
//! flood of made-up client ids from many addresses checks that the failure counters stay
//! bounded in memory.
//!
//! Usage: `tessera-bench-bruteforce BASE_URL CLIENT_ID SECRET SERVER_PID [SECONDS] [MADE_UP]`
//! (defaults 10 s and 1,000,000). Source addresses are taken from 127.0.0.0/8, all loopback on
//! Linux: the attacker is 127.0.0.2, the owner 127.0.0.1, the flood 127.1.0.0/16.
//!
//! HTTP/1.1 is written by hand on purpose: the load generator must choose the source address
//! of every connection, which wrk cannot, and one request per line of code keeps it honest.

use anyhow::{Context, Result, bail};
use base64::Engine;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// One keep-alive connection from a chosen source address.
struct Conn {
    stream: Option<TcpStream>,
    from: IpAddr,
    to: SocketAddr,
    buf: Vec<u8>,
}

impl Conn {
    fn new(from: IpAddr, to: SocketAddr) -> Conn {
        Conn {
            stream: None,
            from,
            to,
            buf: Vec::with_capacity(4096),
        }
    }

    async fn connect(&mut self) -> Result<&mut TcpStream> {
        if self.stream.is_none() {
            let sock = TcpSocket::new_v4()?;
            sock.bind(SocketAddr::new(self.from, 0))?;
            self.stream = Some(sock.connect(self.to).await?);
        }
        self.stream.as_mut().context("connected")
    }

    /// Sends one token request; returns the status. Reconnects once if the connection closed.
    async fn token(&mut self, basic: &str) -> Result<u16> {
        for _ in 0..2 {
            match self.try_token(basic).await {
                Ok(s) => return Ok(s),
                Err(_) => self.stream = None,
            }
        }
        bail!("request failed twice")
    }

    async fn try_token(&mut self, basic: &str) -> Result<u16> {
        let body = "grant_type=client_credentials";
        let req = format!(
            "POST /oauth2/token HTTP/1.1\r\nHost: bench\r\nAuthorization: Basic {basic}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let stream = self.connect().await?;
        stream.write_all(req.as_bytes()).await?;
        self.buf.clear();
        let mut chunk = [0u8; 4096];
        let stream = self.stream.as_mut().context("connected")?;
        let head_end = loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                bail!("closed");
            }
            self.buf.extend_from_slice(&chunk[..n]);
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).to_ascii_lowercase();
        let status: u16 = head
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .context("status line")?;
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while self.buf.len() < head_end + len {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                bail!("closed mid-body");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        if head.contains("connection: close") {
            self.stream = None;
        }
        Ok(status)
    }
}

fn basic(id: &str, secret: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
}

fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("VmRSS")
}

/// A random UUID-shaped client id (v4 layout), from a per-task xorshift: made-up ids only need
/// to be distinct, not secret.
fn made_up_id(state: &mut u64) -> String {
    let mut next = || {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    };
    let (a, b) = (next(), next());
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        (b >> 48) & 0xfff,
        b & 0xffff_ffff_ffff
    )
}

#[derive(Default)]
struct Counts {
    ok: AtomicU64,
    unauthorized: AtomicU64,
    throttled: AtomicU64,
    other: AtomicU64,
}

impl Counts {
    fn add(&self, status: Result<u16>) {
        let c = match status {
            Ok(200) => &self.ok,
            Ok(401) => &self.unauthorized,
            Ok(429) => &self.throttled,
            _ => &self.other,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self) -> [u64; 4] {
        [
            self.ok.load(Ordering::Relaxed),
            self.unauthorized.load(Ordering::Relaxed),
            self.throttled.load(Ordering::Relaxed),
            self.other.load(Ordering::Relaxed),
        ]
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (base, client_id, secret, pid) = match args.as_slice() {
        [_, b, c, s, p, ..] => (b, c, s, p.parse::<u32>().context("SERVER_PID")?),
        _ => bail!(
            "usage: tessera-bench-bruteforce BASE_URL CLIENT_ID SECRET SERVER_PID [SECONDS] [MADE_UP]"
        ),
    };
    let seconds: u64 = args.get(5).map_or(Ok(10), |s| s.parse())?;
    let made_up: u64 = args.get(6).map_or(Ok(1_000_000), |s| s.parse())?;
    let to: SocketAddr = base
        .trim_start_matches("http://")
        .parse()
        .context("BASE_URL must be http://IP:PORT")?;

    // Phase 1: attacker against owner.
    let attacker = Arc::new(Counts::default());
    let owner = Arc::new(Counts::default());
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (c, auth) = (attacker.clone(), basic(client_id, "tsk_wrong_guess"));
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), to);
            while Instant::now() < deadline {
                c.add(conn.token(&auth).await);
            }
        }));
    }
    for _ in 0..2 {
        let (c, auth) = (owner.clone(), basic(client_id, secret));
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), to);
            while Instant::now() < deadline {
                c.add(conn.token(&auth).await);
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let [ok, unauth, thr, other] = owner.get();
    let owner_total = ok + unauth + thr + other;
    println!(
        "owner\trequests={owner_total}\tok={ok}\tsuccess_pct={:.3}",
        100.0 * ok as f64 / owner_total.max(1) as f64
    );
    let [ok, unauth, thr, other] = attacker.get();
    let total = ok + unauth + thr + other;
    println!(
        "attacker\trequests={total}\trps={:.0}\t401={unauth}\t429={thr}\t200={ok}\tother={other}\tthrottled_pct={:.3}",
        total as f64 / seconds as f64,
        100.0 * thr as f64 / total.max(1) as f64
    );

    // Phase 2: made-up client ids from many addresses.
    let before = rss_kib(pid)?;
    let flood = Arc::new(Counts::default());
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for task in 0..32u64 {
        let (c, next) = (flood.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ (task + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            // 16 requests per source address, then the next address of 127.1.0.0/16.
            loop {
                let i = next.fetch_add(16, Ordering::Relaxed);
                if i >= made_up {
                    break;
                }
                let a = (i / 16) % 65_536;
                let from = IpAddr::V4(Ipv4Addr::new(127, 1, (a >> 8) as u8, (a & 0xff) as u8));
                let mut conn = Conn::new(from, to);
                for _ in 0..16 {
                    let id = made_up_id(&mut rng);
                    c.add(conn.token(&basic(&id, "tsk_made_up")).await);
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let after = rss_kib(pid)?;
    let [ok, unauth, thr, other] = flood.get();
    println!(
        "made_up\trequests={}\tsecs={:.1}\t401={unauth}\t429={thr}\t200={ok}\tother={other}\trss_before_mib={:.1}\trss_after_mib={:.1}\tgrowth_mib={:.1}",
        ok + unauth + thr + other,
        start.elapsed().as_secs_f64(),
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        (after as f64 - before as f64) / 1024.0
    );
    Ok(())
}
