//! A throwaway PostgreSQL cluster for tests and local runs.
//!
//! [`TempPostgres::start`] runs `initdb` into a fresh temporary directory,
//! starts the server on a free TCP port on 127.0.0.1 with `pg_ctl`, and on
//! drop stops it (`pg_ctl -m immediate stop`) and removes the directory.
//!
//! Cleanup also happens when this process dies without running destructors
//! (Ctrl-C, SIGTERM from a CI timeout, a panic with `abort`): a small
//! watchdog shell, started in its own process group, holds the read end of
//! a pipe whose write end only this process holds. When the pipe closes
//! without the "already cleaned up" line, the watchdog stops the server and
//! removes the directory.
//!
//! `initdb` and `postgres` refuse to run as root, so when the effective uid
//! is 0 every server-side command runs as the `postgres` system user via
//! `runuser -u postgres --`.

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

/// Where Debian/Ubuntu's `postgresql-NN` packages put the server binaries.
const DEBIAN_PG_ROOT: &str = "/usr/lib/postgresql";
/// The binaries a throwaway cluster needs, all from the same directory.
const SERVER_BINARIES: [&str; 3] = ["initdb", "pg_ctl", "postgres"];
/// The system user that runs the server when we are root.
const PG_SYSTEM_USER: &str = "postgres";
/// Settings for a disposable, test-only server: no durability, many connections
/// (`#[sqlx::test]` opens a pool per test, and tests run in parallel).
const SERVER_SETTINGS: &[&str] = &[
    "listen_addresses=127.0.0.1",
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_connections=300",
];

/// Returns `DATABASE_URL` if it is set (and not empty), otherwise starts a
/// throwaway cluster and returns its URL together with the guard that keeps it
/// alive: keep the guard until the server is no longer needed.
pub fn database_url_or_temp() -> Result<(String, Option<TempPostgres>)> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => {
            println!(
                "Using DATABASE_URL from the environment ({}).",
                redact(&url)
            );
            Ok((url, None))
        }
        _ => {
            let pg = TempPostgres::start()?;
            Ok((pg.url.clone(), Some(pg)))
        }
    }
}

/// A running throwaway PostgreSQL cluster; stopped and deleted on drop.
#[derive(Debug)]
pub struct TempPostgres {
    /// `postgres://postgres@127.0.0.1:<port>/postgres` (trust authentication).
    pub url: String,
    /// The TCP port the server listens on (127.0.0.1 only).
    pub port: u16,
    /// The temporary directory holding the data directory, socket and log.
    pub dir: PathBuf,
    bin_dir: PathBuf,
    /// `Some(path of runuser)` when we are root and run the server as `postgres`.
    runuser: Option<PathBuf>,
    watchdog: Option<Child>,
}

impl TempPostgres {
    /// Initialises and starts a new cluster. Fails with an explanation of what
    /// to install when the PostgreSQL server binaries cannot be found.
    pub fn start() -> Result<Self> {
        let bin_dir = find_server_bin_dir()?;
        let runuser = if effective_uid()? == 0 {
            Some(check_root_prerequisites()?)
        } else {
            None
        };
        let run_as_postgres = runuser.is_some();
        println!(
            "Starting a throwaway PostgreSQL from {}{}",
            bin_dir.display(),
            if run_as_postgres {
                " (as the `postgres` user, since we are root)"
            } else {
                ""
            }
        );

        let dir = create_private_dir(run_as_postgres)?;
        // From here on the guard owns the directory: any error below drops it,
        // which stops whatever was started and removes the directory.
        let mut pg = TempPostgres {
            url: String::new(),
            port: 0,
            dir,
            bin_dir,
            runuser,
            watchdog: None,
        };
        pg.watchdog = Some(pg.spawn_watchdog()?);
        pg.initdb()?;
        pg.start_server()?;
        pg.url = format!("postgres://postgres@127.0.0.1:{}/postgres", pg.port);
        println!("PostgreSQL is ready: {}", pg.url);
        Ok(pg)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log_file(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// A command for a server binary, run as `postgres` when we are root, with
    /// the temporary directory as working directory (the `postgres` user may
    /// not be allowed into the current one).
    fn server_command(&self, binary: &str) -> Command {
        let program = self.bin_dir.join(binary);
        let mut cmd = match &self.runuser {
            Some(runuser) => {
                let mut cmd = Command::new(runuser);
                cmd.args(["-u", PG_SYSTEM_USER, "--"]).arg(program);
                cmd
            }
            None => Command::new(program),
        };
        cmd.current_dir(&self.dir);
        cmd
    }

    fn initdb(&self) -> Result<()> {
        let mut cmd = self.server_command("initdb");
        cmd.arg("-D")
            .arg(self.data_dir())
            .args([
                "--auth=trust",
                "--username=postgres",
                "-E",
                "UTF8",
                // Deterministic collation, and no dependency on which locales
                // happen to be generated on the machine.
                "--locale=C",
                "--no-sync",
            ])
            .stdin(Stdio::null());
        let output = cmd
            .output()
            .with_context(|| format!("could not run {cmd:?}"))?;
        if !output.status.success() {
            bail!(
                "initdb failed ({}):\n{}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }

    fn start_server(&mut self) -> Result<()> {
        // The port is free when we pick it but another process could take it
        // before the server binds it; retry a few times with a new port.
        const ATTEMPTS: usize = 3;
        for attempt in 1..=ATTEMPTS {
            self.port = pick_free_port()?;
            let mut cmd = self.server_command("pg_ctl");
            cmd.arg("-D")
                .arg(self.data_dir())
                .arg("-l")
                .arg(self.log_file())
                .arg("-o")
                .arg(server_options(self.port, &self.dir)?)
                .args(["-w", "-t", "60", "start"])
                // With -l the server writes only to the log file; keep pg_ctl's
                // own chatter off the terminal, report it on failure.
                .stdin(Stdio::null());
            let output = cmd
                .output()
                .with_context(|| format!("could not run {cmd:?}"))?;
            if output.status.success() {
                return wait_for_tcp(self.port, Duration::from_secs(30));
            }
            let log = fs::read_to_string(self.log_file()).unwrap_or_default();
            let port_taken = log.contains("could not bind") || log.contains("already in use");
            if port_taken && attempt < ATTEMPTS {
                println!("Port {} was taken in the meantime; retrying.", self.port);
                continue;
            }
            bail!(
                "pg_ctl start failed ({}):\n{}{}\n--- server log ({}) ---\n{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr),
                self.log_file().display(),
                tail(&log, 40)
            );
        }
        unreachable!("the loop returns or bails on its last attempt")
    }

    /// Starts the watchdog shell (see the module docs). Its stdin is the pipe;
    /// it is in its own process group so that Ctrl-C does not kill it along
    /// with us.
    fn spawn_watchdog(&self) -> Result<Child> {
        use std::os::unix::process::CommandExt;

        const SCRIPT: &str = r#"
IFS= read -r line
[ "$line" = done ] && exit 0
if [ -n "$1" ]; then
    "$1" -u postgres -- "$2" -D "$3" -m immediate stop >/dev/null 2>&1
else
    "$2" -D "$3" -m immediate stop >/dev/null 2>&1
fi
rm -rf "$4"
echo "xtask: stopped the throwaway PostgreSQL and removed $4" >&2
"#;
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(SCRIPT)
            .arg("xtask-pg-watchdog")
            .arg(self.runuser.as_deref().unwrap_or(Path::new("")))
            .arg(self.bin_dir.join("pg_ctl"))
            .arg(self.data_dir())
            .arg(&self.dir)
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .process_group(0);
        cmd.spawn()
            .with_context(|| format!("could not start the cleanup watchdog {cmd:?}"))
    }

    fn stop_and_remove(&mut self) {
        if self.data_dir().join("postmaster.pid").exists() {
            println!("Stopping the throwaway PostgreSQL on port {}.", self.port);
            let mut cmd = self.server_command("pg_ctl");
            cmd.arg("-D")
                .arg(self.data_dir())
                .args(["-m", "immediate", "stop"])
                .stdin(Stdio::null());
            match cmd.output() {
                Ok(out) if out.status.success() => {}
                Ok(out) => eprintln!(
                    "warning: pg_ctl stop failed ({}): {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
                Err(err) => eprintln!("warning: could not run pg_ctl stop: {err}"),
            }
        }
        if let Err(err) = fs::remove_dir_all(&self.dir)
            && err.kind() != std::io::ErrorKind::NotFound
        {
            eprintln!("warning: could not remove {}: {err}", self.dir.display());
        }
        if let Some(mut watchdog) = self.watchdog.take() {
            // Tell the watchdog there is nothing left to do, then reap it.
            if let Some(mut stdin) = watchdog.stdin.take() {
                let _ = stdin.write_all(b"done\n");
            }
            let _ = watchdog.wait();
        }
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        self.stop_and_remove();
    }
}

/// The `-o` argument of `pg_ctl start`. pg_ctl hands it to `sh`, hence the
/// single quotes around the socket directory.
fn server_options(port: u16, socket_dir: &Path) -> Result<String> {
    let dir = socket_dir
        .to_str()
        .context("temporary directory path is not UTF-8")?;
    if dir.contains('\'') {
        bail!("temporary directory path {dir:?} contains a single quote");
    }
    let mut opts = format!("-p {port} -k '{dir}'");
    for setting in SERVER_SETTINGS {
        opts.push_str(" -c ");
        opts.push_str(setting);
    }
    Ok(opts)
}

/// Asks the OS for a free TCP port on 127.0.0.1 (bind to port 0, read it back,
/// release it).
pub fn pick_free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .context("could not bind 127.0.0.1:0 to pick a free port")?;
    Ok(listener.local_addr()?.port())
}

fn wait_for_tcp(port: u16, timeout: Duration) -> Result<()> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + timeout;
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            Ok(_) => return Ok(()),
            Err(err) if Instant::now() >= deadline => {
                bail!("PostgreSQL did not accept TCP connections on {addr}: {err}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Finds a directory holding `initdb`, `pg_ctl` and `postgres`: first on
/// `PATH`, then the highest version under `/usr/lib/postgresql/*/bin`.
pub fn find_server_bin_dir() -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    find_bin_dir_in(&path, Path::new(DEBIAN_PG_ROOT)).ok_or_else(|| {
        anyhow::anyhow!(
            "cannot start a throwaway PostgreSQL: the server binaries ({}) were not found \
             on PATH or under {DEBIAN_PG_ROOT}/*/bin.\n\
             Either install PostgreSQL (Debian/Ubuntu: `apt-get install postgresql`; \
             Fedora: `dnf install postgresql-server`; macOS: `brew install postgresql`), \
             or set DATABASE_URL to a server where the user may CREATE DATABASE \
             (`cargo xtask ci`/`test` then use it), \
             e.g. DATABASE_URL=postgres://postgres:postgres@localhost:5432/postgres",
            SERVER_BINARIES.join(", ")
        )
    })
}

fn find_bin_dir_in(path: &OsString, debian_root: &Path) -> Option<PathBuf> {
    std::env::split_paths(path)
        .chain(versioned_bin_dirs(debian_root))
        .find(|dir| has_server_binaries(dir))
}

/// `<root>/<version>/bin` for every version directory, highest version first.
fn versioned_bin_dirs(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(root) else {
        return Vec::new();
    };
    let mut versions: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = parse_version(entry.file_name().to_str()?)?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    versions.into_iter().map(|(_, dir)| dir).collect()
}

/// "16" -> [16], "9.6" -> [9, 6]; anything else is not a version.
fn parse_version(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

fn has_server_binaries(dir: &Path) -> bool {
    SERVER_BINARIES
        .iter()
        .all(|name| is_executable(&dir.join(name)))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The effective uid, from `id -u` (keeps libc out of the dependencies).
pub fn effective_uid() -> Result<u32> {
    let output = Command::new("id")
        .arg("-u")
        .output()
        .context("could not run `id -u`")?;
    if !output.status.success() {
        bail!("`id -u` failed ({})", output.status);
    }
    parse_uid(&output.stdout)
}

fn parse_uid(stdout: &[u8]) -> Result<u32> {
    let text = String::from_utf8_lossy(stdout);
    text.trim()
        .parse()
        .with_context(|| format!("unexpected output of `id -u`: {text:?}"))
}

/// Checks what running the server as `postgres` needs; returns runuser's path.
fn check_root_prerequisites() -> Result<PathBuf> {
    let user_exists = Command::new("id")
        .arg(PG_SYSTEM_USER)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !user_exists {
        bail!(
            "running as root, but PostgreSQL refuses to run as root and there is no `{PG_SYSTEM_USER}` \
             system user to run it as. Install Debian's `postgresql` package (it creates the user), \
             create the user (`useradd --system {PG_SYSTEM_USER}`), run as a non-root user, \
             or set DATABASE_URL."
        );
    }
    // runuser is in /usr/sbin, which is not always on PATH.
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join("runuser"))
        .find(|candidate| is_executable(candidate))
        .with_context(|| {
            format!(
                "running as root, but `runuser` (util-linux) was not found to run PostgreSQL as \
                 `{PG_SYSTEM_USER}`. Install util-linux, run as a non-root user, or set DATABASE_URL."
            )
        })
}

/// Creates `<tmp>/xtask-pg-<pid>-<n>` with mode 0700, owned by `postgres` when
/// we are root (`/tmp` is traversable by everyone, so `postgres` can reach it).
fn create_private_dir(chown_to_postgres: bool) -> Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;

    let parent = if chown_to_postgres {
        // TMPDIR of root may be somewhere `postgres` cannot traverse.
        PathBuf::from("/tmp")
    } else {
        std::env::temp_dir()
    };
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    for n in 0..100u32 {
        let dir = parent.join(format!(
            "xtask-pg-{}-{:x}",
            std::process::id(),
            nanos.wrapping_add(n)
        ));
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {
                if chown_to_postgres {
                    chown_to_pg_user(&dir)?;
                }
                return Ok(dir);
            }
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(err) => {
                return Err(err).with_context(|| format!("could not create {}", dir.display()));
            }
        }
    }
    bail!(
        "could not create a fresh temporary directory in {}",
        parent.display()
    )
}

fn chown_to_pg_user(dir: &Path) -> Result<()> {
    let status = Command::new("chown")
        .arg("-R")
        .arg(PG_SYSTEM_USER)
        .arg(dir)
        .status()
        .context("could not run chown")?;
    if !status.success() {
        let _ = fs::remove_dir_all(dir);
        bail!(
            "`chown -R {PG_SYSTEM_USER} {}` failed ({status})",
            dir.display()
        );
    }
    Ok(())
}

/// Hides the password of a connection URL for printing.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    // The userinfo ends at the last '@' before the path.
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => {
                format!("{scheme}://{user}:***@{host}{}", &rest[authority_end..])
            }
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch directory removed at the end of the test.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!(
                "xtask-test-{name}-{}-{}",
                std::process::id(),
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_nanos()
            ));
            fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        /// Creates `rel_dir` with the given files (executable or not).
        fn bin_dir(&self, rel_dir: &str, files: &[&str], executable: bool) -> PathBuf {
            use std::os::unix::fs::PermissionsExt;
            let dir = self.0.join(rel_dir);
            fs::create_dir_all(&dir).unwrap();
            for file in files {
                let path = dir.join(file);
                fs::write(&path, "#!/bin/sh\n").unwrap();
                let mode = if executable { 0o755 } else { 0o644 };
                fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            }
            dir
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn path_of(dirs: &[&Path]) -> OsString {
        std::env::join_paths(dirs).unwrap()
    }

    #[test]
    fn picks_a_port_that_can_be_bound() {
        let port = pick_free_port().unwrap();
        assert_ne!(port, 0);
        // Released again, so the server (here: we) can bind it.
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
    }

    #[test]
    fn prefers_path_over_debian_dirs() {
        let s = Scratch::new("path");
        let on_path = s.bin_dir("local/bin", &SERVER_BINARIES, true);
        s.bin_dir("lib/15/bin", &SERVER_BINARIES, true);
        let found = find_bin_dir_in(&path_of(&[&on_path]), &s.0.join("lib"));
        assert_eq!(found, Some(on_path));
    }

    #[test]
    fn picks_the_highest_debian_version() {
        let s = Scratch::new("versions");
        s.bin_dir("lib/9.6/bin", &SERVER_BINARIES, true);
        s.bin_dir("lib/15/bin", &SERVER_BINARIES, true);
        let v16 = s.bin_dir("lib/16/bin", &SERVER_BINARIES, true);
        s.bin_dir("lib/not-a-version/bin", &SERVER_BINARIES, true);
        let empty_path = s.bin_dir("empty", &[], true);
        let found = find_bin_dir_in(&path_of(&[&empty_path]), &s.0.join("lib"));
        assert_eq!(found, Some(v16));
    }

    #[test]
    fn skips_incomplete_or_non_executable_dirs() {
        let s = Scratch::new("incomplete");
        let client_only = s.bin_dir("usr/bin", &["psql", "pg_ctl"], true);
        let not_exec = s.bin_dir("lib/17/bin", &SERVER_BINARIES, false);
        let v16 = s.bin_dir("lib/16/bin", &SERVER_BINARIES, true);
        let found = find_bin_dir_in(&path_of(&[&client_only, &not_exec]), &s.0.join("lib"));
        assert_eq!(found, Some(v16));
    }

    #[test]
    fn finds_nothing_without_binaries() {
        let s = Scratch::new("none");
        let empty = s.bin_dir("bin", &[], true);
        let found = find_bin_dir_in(&path_of(&[&empty]), &s.0.join("missing"));
        assert_eq!(found, None);
    }

    #[test]
    fn parses_versions() {
        assert_eq!(parse_version("16"), Some(vec![16]));
        assert_eq!(parse_version("9.6"), Some(vec![9, 6]));
        assert_eq!(parse_version("16beta1"), None);
        assert!(parse_version("10") > parse_version("9.6"));
    }

    #[test]
    fn parses_uid() {
        assert_eq!(parse_uid(b"0\n").unwrap(), 0);
        assert_eq!(parse_uid(b"1000\n").unwrap(), 1000);
        assert!(parse_uid(b"root\n").is_err());
    }

    #[test]
    fn builds_server_options() {
        let opts = server_options(5433, Path::new("/tmp/xtask-pg-1")).unwrap();
        assert!(opts.starts_with("-p 5433 -k '/tmp/xtask-pg-1' -c listen_addresses=127.0.0.1"));
        assert!(opts.contains("-c max_connections=300"));
        assert!(server_options(1, Path::new("/tmp/it's")).is_err());
    }

    /// Starts a real cluster (needs the PostgreSQL server binaries; as root
    /// also the `postgres` user): `cargo test -p xtask -- --ignored`.
    #[test]
    #[ignore = "starts a real PostgreSQL"]
    fn temp_postgres_starts_and_cleans_up_on_drop() {
        let pg = TempPostgres::start().unwrap();
        let (port, dir) = (pg.port, pg.dir.clone());
        assert_eq!(
            pg.url,
            format!("postgres://postgres@127.0.0.1:{port}/postgres")
        );
        assert!(dir.join("data/PG_VERSION").exists());
        TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
        drop(pg);
        assert!(!dir.exists(), "{} was not removed", dir.display());
        assert!(TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err());
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://u:secret@db:5432/x"),
            "postgres://u:***@db:5432/x"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1:1/postgres"),
            "postgres://postgres@127.0.0.1:1/postgres"
        );
        assert_eq!(redact("not a url"), "not a url");
    }
}
