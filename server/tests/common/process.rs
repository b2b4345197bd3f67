//! The `server` binary as a child process: `server serve` on a free
//! loopback port, its address read from its JSON log, stopped with SIGTERM
//! (killed if the caller panics first). Shared by `tests/cli.rs`,
//! `tests/stream.rs` (two replicas) and `benches/stream.rs`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The `server` binary, without the settings the environment could give it.
pub fn server() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
    command
        .env_remove("DATABASE_URL")
        .env_remove("LISTEN")
        .env_remove("ANONYMOUS_READ");
    command
}

/// A running `server serve`.
pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`, as the server logged it.
    pub address: String,
    /// Every line the server logged so far.
    log: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Starts `server serve` on `database_url`, with `RUST_LOG` and any
    /// other environment in `env`, and waits (up to 30 s) for the address it
    /// listens on. Its log is read to the end on a thread, so the server
    /// never blocks on a full pipe.
    pub fn serve(database_url: &str, env: &[(&str, &str)]) -> ServerProcess {
        let mut command = server();
        command.envs(env.iter().copied()).args([
            "--database-url",
            database_url,
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "serve",
        ]);
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the server");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn({
            let log = log.clone();
            move || {
                let mut tx = Some(tx);
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    let address = serde_json::from_str::<serde_json::Value>(&line)
                        .ok()
                        .and_then(|entry| entry["fields"]["address"].as_str().map(str::to_owned));
                    if let Some(address) = address {
                        if let Some(tx) = tx.take() {
                            let _ = tx.send(address);
                        }
                    }
                    if let Ok(mut log) = log.lock() {
                        log.push(line);
                    }
                }
            }
        });
        let address = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server reports its address");
        ServerProcess {
            child,
            address,
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The lines logged so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().map(|log| log.clone()).unwrap_or_default()
    }

    /// Sends SIGTERM and waits up to 15 s for the exit; `None` if the
    /// server was still running then (it is killed when dropped).
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl ServerProcess {
    /// Kills the server with SIGKILL (no chance to flush anything) and
    /// waits for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
