//! The JSON request lines' writer: lines are appended to one shared buffer and a thread of its
//! own writes the buffer out every [`EVERY`], in one `write(2)`.
//!
//! Written by hand because the general non-blocking writer (tracing-appender's) hands each line
//! to its thread through a channel, and at tens of thousands of lines a second the wake-up per
//! line cost a token request more CPU than everything else its log line needs (BENCHMARKS.md).
//! Past [`CAP`] bytes waiting (stderr stuck, say) lines are counted and dropped rather than
//! stall token issuance; the audit log, in the database, is the record that must not lose
//! anything.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the buffer is written out.
pub const EVERY: Duration = Duration::from_millis(20);
/// Most bytes waiting.
pub const CAP: usize = 32 * 1024 * 1024;

#[derive(Default)]
struct Shared {
    // Held only to append a line or to take the buffer; never across I/O.
    waiting: Mutex<Vec<u8>>,
    dropped: AtomicU64,
}

/// The batch writer; dropping it writes out what is waiting.
pub struct LineBatch {
    shared: Arc<Shared>,
    out: Arc<Mutex<Box<dyn Write + Send>>>,
}

impl LineBatch {
    /// Starts the writer thread over `out`.
    pub fn start(out: Box<dyn Write + Send>) -> LineBatch {
        let shared = Arc::new(Shared::default());
        let out = Arc::new(Mutex::new(out));
        let (s, o) = (Arc::downgrade(&shared), out.clone());
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(EVERY);
                let Some(shared) = s.upgrade() else { return };
                write_out(&shared, &o);
            }
        });
        LineBatch { shared, out }
    }

    /// A sink for `tessera_server::request_log::set_json_sink`.
    pub fn sink(&self) -> tessera_server::request_log::LineSink {
        let shared = self.shared.clone();
        Box::new(move |line: &[u8]| {
            let mut w = shared.waiting.lock().unwrap_or_else(|e| e.into_inner());
            if w.len() + line.len() > CAP {
                shared.dropped.fetch_add(1, Ordering::Relaxed);
            } else {
                w.extend_from_slice(line);
            }
        })
    }
}

fn write_out(shared: &Shared, out: &Mutex<Box<dyn Write + Send>>) {
    let chunk = std::mem::take(&mut *shared.waiting.lock().unwrap_or_else(|e| e.into_inner()));
    let dropped = shared.dropped.swap(0, Ordering::Relaxed);
    let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
    if !chunk.is_empty() {
        let _ = out.write_all(&chunk);
    }
    if dropped > 0 {
        let _ = writeln!(
            out,
            "{{\"level\":\"WARN\",\"fields\":{{\"message\":\"request log lines dropped: the log output is not keeping up\",\"dropped\":{dropped}}},\"target\":\"tessera::request\"}}"
        );
    }
    let _ = out.flush();
}

impl Drop for LineBatch {
    fn drop(&mut self) {
        write_out(&self.shared, &self.out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_come_out_whole_in_order_and_on_drop() {
        let out = Captured::default();
        let batch = LineBatch::start(Box::new(out.clone()));
        let sink = batch.sink();
        for i in 0..1000 {
            sink(format!("line {i}\n").as_bytes());
        }
        drop(batch);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1000);
        assert_eq!(lines[999], "line 999");
    }
}
