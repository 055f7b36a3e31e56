//! The `ghl-sim` binary as other programs use it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ghl-sim");

/// Kills the child if a test fails half-way.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn it_prints_its_address_serves_and_stops_cleanly_on_sigterm() {
    let mut child = Command::new(BIN)
        .args(["--bind", "127.0.0.1:0", "--custom-field", "service_type"])
        .env("GHL_API_KEY", "bin-secret-token")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut running = Running(child);

    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    let addr = line
        .trim_end()
        .strip_prefix("ghl-sim listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();

    let health = http_get(&addr, "/_sim/healthz", None);
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let fields = http_get(
        &addr,
        "/locations/sim-location/customFields",
        Some("bin-secret-token"),
    );
    assert!(fields.starts_with("HTTP/1.1 200"), "{fields}");
    assert!(
        fields.contains("contact.service_type") && fields.contains("contact.appointment_status")
    );

    let pid = running.0.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = running.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "ghl-sim did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");

    let mut logs = String::new();
    stderr.read_to_string(&mut logs).unwrap();
    assert!(logs.contains("ghl call"), "{logs}");
    assert!(
        !logs.contains("bin-secret-token"),
        "the token leaked into the logs"
    );
}

#[test]
fn help_lists_the_options_without_revealing_the_configured_token() {
    let output = Command::new(BIN)
        .arg("--help")
        .env("GHL_API_KEY", "bin-secret-token")
        .output()
        .unwrap();

    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for option in [
        "--bind",
        "GHL_SIM_BIND",
        "--location-id",
        "GHL_LOCATION_ID",
        "--api-key",
        "GHL_API_KEY",
        "--custom-field",
        "--fault-rate",
        "GHL_SIM_FAULT_RATE",
        "--fault-kinds",
        "GHL_SIM_FAULT_KINDS",
        "--fault-after-write-share",
        "GHL_SIM_FAULT_AFTER_WRITE_SHARE",
        "--latency-ms",
        "GHL_SIM_LATENCY_MS",
        "--rate-limit-burst",
        "GHL_SIM_RATE_LIMIT_BURST",
        "--rate-limit-window-ms",
        "GHL_SIM_RATE_LIMIT_WINDOW_MS",
        "--rate-limit-daily",
        "GHL_SIM_RATE_LIMIT_DAILY",
    ] {
        assert!(help.contains(option), "--help lacks {option}:\n{help}");
    }
    assert!(!help.contains("bin-secret-token"));
}

#[test]
fn behaviour_flags_and_env_set_the_initial_control() {
    let mut child = Command::new(BIN)
        .args([
            "--bind",
            "127.0.0.1:0",
            "--fault-kinds",
            "500,401",
            "--latency-ms",
            "1-3",
        ])
        .env("GHL_SIM_FAULT_RATE", "0.25")
        .env("GHL_SIM_FAULT_AFTER_WRITE_SHARE", "0.75")
        .env("GHL_SIM_RATE_LIMIT_BURST", "20")
        .env("GHL_SIM_RATE_LIMIT_WINDOW_MS", "1000")
        .env("GHL_SIM_RATE_LIMIT_DAILY", "5000")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _running = Running(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .trim_end()
        .strip_prefix("ghl-sim listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();

    let response = http_get(&addr, "/_sim/control", None);
    let body = response.split("\r\n\r\n").nth(1).unwrap();
    let control: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        control,
        serde_json::json!({
            "faultRate": 0.25,
            "faultKinds": ["500", "401"],
            "faultAfterWriteShare": 0.75,
            "latencyMs": {"min": 1, "max": 3},
            "rateLimit": {"burst": 20, "windowMs": 1000, "daily": 5000}
        })
    );
}

#[test]
fn out_of_range_behaviour_flags_are_refused() {
    for args in [
        ["--fault-rate", "1.5"],
        ["--fault-kinds", "500,418"],
        ["--latency-ms", "50-5"],
        ["--rate-limit-burst", "0"],
    ] {
        let output = Command::new(BIN).args(args).output().unwrap();
        assert!(!output.status.success(), "{args:?} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(args[0]), "{args:?}: {stderr}");
    }
}

/// A minimal HTTP/1.1 GET, enough to prove the binary serves.
fn http_get(addr: &str, path: &str, token: Option<&str>) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let auth = token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nVersion: 2021-07-28\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}
