//! Test support (not shipped): scratch SQLite files, and a throwaway PostgreSQL cluster started
//! from the server binaries the Debian package `postgresql` installs (`initdb` and `pg_ctl`), on a temporary directory and a free port. No
//! service needs to be set up by hand: `.ci/run` installs the package, and tests that need
//! PostgreSQL call [`PgCluster::shared`] or [`PgCluster::start`].
//!
//! When the binaries are absent the cluster is `None` and the tests skip with a message, unless
//! `TESSERA_REQUIRE_POSTGRES=1` (set by `.ci/run`), in which case they fail.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A running cluster. Dropping it stops the server and removes its files.
#[derive(Debug)]
pub struct PgCluster {
    bin: PathBuf,
    dir: PathBuf,
    _tmp: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
}

fn find_bindir() -> Option<PathBuf> {
    if let Ok(d) = std::env::var("TESSERA_PG_BINDIR") {
        return Some(PathBuf::from(d));
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists() && p.join("pg_ctl").exists())
        .collect();
    versions.sort();
    versions.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(54329)
}

/// Whether tests must fail, not skip, without PostgreSQL.
fn required() -> bool {
    std::env::var("TESSERA_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

impl PgCluster {
    /// Starts a new cluster, or `None` (with a note on stderr) when PostgreSQL is not installed.
    pub fn start() -> Option<PgCluster> {
        let Some(bin) = find_bindir() else {
            assert!(
                !required(),
                "TESSERA_REQUIRE_POSTGRES=1 but no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)"
            );
            eprintln!("note: PostgreSQL server binaries not found; skipping a PostgreSQL test");
            return None;
        };
        // PostgreSQL refuses to run as root: run it as the package's `postgres` user then.
        let as_postgres = is_root();
        let tmp = tempfile::Builder::new()
            .prefix("tessera-pg-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
        let dir = tmp.path().join("data");
        let cluster = PgCluster {
            bin,
            dir,
            _tmp: tmp,
            port: free_port(),
            as_postgres,
        };
        if as_postgres {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(cluster._tmp.path())
                .status()
                .is_ok_and(|s| s.success());
            assert!(
                ok,
                "cannot hand the temporary directory to the postgres user"
            );
        }
        let out = cluster
            .pg("initdb")
            .args([
                "-A",
                "trust",
                "-U",
                "tessera",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(&cluster.dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run initdb: {e}"));
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        cluster.start_server();
        Some(cluster)
    }

    /// One cluster for the whole test process, stopped by a watchdog when the process exits.
    pub fn shared() -> Option<&'static PgCluster> {
        static SHARED: OnceLock<Option<PgCluster>> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                let c = PgCluster::start()?;
                c.watch_parent();
                Some(c)
            })
            .as_ref()
    }

    fn pg(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    /// Starts (or restarts) the server and waits until it accepts connections.
    pub fn start_server(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.dir.display()
        );
        let out = self
            .pg("pg_ctl")
            .arg("-D")
            .arg(&self.dir)
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-o", &opts, "-w", "start"])
            .stdout(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run pg_ctl: {e}"));
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stops the server (fast shutdown: committed data stays).
    pub fn stop_server(&self) {
        let _ = self
            .pg("pg_ctl")
            .arg("-D")
            .arg(&self.dir)
            .args(["-m", "fast", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// A new, empty database; returns its URL.
    pub fn database(&self) -> String {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "t{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let out = Command::new(self.bin.join("createdb"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "tessera",
                &name,
            ])
            .output()
            .unwrap_or_else(|e| panic!("cannot run createdb: {e}"));
        assert!(
            out.status.success(),
            "createdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        format!("postgres://tessera@127.0.0.1:{}/{name}", self.port)
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stops the server when this process exits, even if nothing drops the cluster (statics).
    fn watch_parent(&self) {
        let pg_ctl = if self.as_postgres {
            format!(
                "runuser -u postgres -- {}",
                self.bin.join("pg_ctl").display()
            )
        } else {
            self.bin.join("pg_ctl").display().to_string()
        };
        on_exit(&format!(
            "{pg_ctl} -D {dir} -m immediate stop >/dev/null 2>&1; rm -rf {tmp}",
            dir = self.dir.display(),
            tmp = self._tmp.path().display(),
        ));
    }
}

/// Runs the shell command `cmd` once this process has exited.
fn on_exit(cmd: &str) {
    let watch = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {cmd}",
        pid = std::process::id()
    );
    let _ = Command::new("sh")
        .args(["-c", &watch])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

/// A directory for this test process's scratch files (SQLite databases), removed when the
/// process exits.
pub fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("tessera-test-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"))
            .keep();
        on_exit(&format!("rm -rf {}", dir.display()));
        dir
    })
}

/// A copy of an engine crate's migrations before `version` (file names sort by version), in a
/// new directory under [`scratch_dir`]: run them with `sqlx::migrate::Migrator::new` to make a
/// database as an earlier release left it, then open it with this release to test the upgrade.
pub fn migrations_before(crate_dir: &str, version: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = scratch_dir().join(format!("migrations{}", N.fetch_add(1, Ordering::Relaxed)));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let all = Path::new(crate_dir).join("migrations");
    let files = std::fs::read_dir(&all).unwrap_or_else(|e| panic!("{}: {e}", all.display()));
    for f in files.flatten() {
        if f.file_name().to_string_lossy().as_ref() < version {
            std::fs::copy(f.path(), dir.join(f.file_name()))
                .unwrap_or_else(|e| panic!("{}: {e}", f.path().display()));
        }
    }
    dir
}

/// The URL of a new SQLite database file in [`scratch_dir`].
pub fn sqlite_url() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("sqlite://{}/db{n}.sqlite", scratch_dir().display())
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self
            .pg("pg_ctl")
            .arg("-D")
            .arg(&self.dir)
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
