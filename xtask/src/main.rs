//! Project automation, run as `cargo xtask <command>` (see `cargo xtask help`).
//!
//! To add a command, write a `fn(&[String]) -> Result<()>` and add an entry to
//! [`COMMANDS`]; `help` and dispatch pick it up from there.

mod bench;
mod demo;
mod http;
mod pg;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// A `cargo xtask` subcommand.
struct Cmd {
    name: &'static str,
    about: &'static str,
    run: fn(&[String]) -> Result<()>,
}

const COMMANDS: &[Cmd] = &[
    Cmd {
        name: "ci",
        about: "Everything CI checks: fmt, clippy, a PostgreSQL, build, tests",
        run: ci,
    },
    Cmd {
        name: "test",
        about: "Only the PostgreSQL + build + test steps of `ci` (quick local run)",
        run: test,
    },
    Cmd {
        name: "bench",
        about: "Measure API latency, backlog drain vs the GHL budget, sync latency and memory (release)",
        run: bench::bench,
    },
    Cmd {
        name: "demo",
        about: "Run ghl-sim, api and worker with sample bookings synced to GHL (Ctrl-C stops)",
        run: demo::demo,
    },
    Cmd {
        name: "chaos",
        about: "The chaos test, long form: faults, latency, killed workers (--seed N --appointments N --seconds N)",
        run: chaos,
    },
    Cmd {
        name: "pg",
        about: "Start a throwaway PostgreSQL, print its DATABASE_URL, remove it on Ctrl-C",
        run: pg,
    },
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((name, rest)) = args.split_first() else {
        print_help();
        return ExitCode::FAILURE;
    };
    let result = match name.as_str() {
        "help" | "--help" | "-h" => {
            print_help();
            Ok(())
        }
        _ => match COMMANDS.iter().find(|c| c.name == name) {
            Some(cmd) => (cmd.run)(rest),
            None => {
                print_help();
                Err(anyhow::anyhow!("unknown command `{name}`"))
            }
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // Not `{err:?}`: that adds a backtrace when RUST_BACKTRACE is set.
            eprintln!("\nxtask: error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

fn print_help() {
    println!("Usage: cargo xtask <COMMAND>\n\nCommands:");
    for cmd in COMMANDS {
        println!("  {:<6} {}", cmd.name, cmd.about);
    }
    println!("  {:<6} Print this help", "help");
    println!(
        "\nThe PostgreSQL for the tests: DATABASE_URL if set (the user must be allowed to \
         CREATE DATABASE),\notherwise a throwaway cluster from the local PostgreSQL binaries \
         (initdb, pg_ctl, postgres on PATH\nor under /usr/lib/postgresql/*/bin), removed afterwards."
    );
    println!(
        "\nThe dashboard's browser test needs Debian's chromium and chromium-driver \
         (/usr/bin/chromium,\n/usr/bin/chromedriver; `apt-get install chromium chromium-driver`, \
         which .ci/run does)."
    );
}

pub(crate) fn no_args(command: &str, args: &[String]) -> Result<()> {
    match args.first() {
        Some(arg) if arg == "--help" || arg == "-h" => {
            print_help();
            std::process::exit(0)
        }
        Some(arg) => bail!("`cargo xtask {command}` takes no arguments (got `{arg}`)"),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------- commands

fn ci(args: &[String]) -> Result<()> {
    no_args("ci", args)?;
    let mut steps = Steps::new("ci", 5);
    let result = (|| {
        steps.run("fmt", "cargo fmt --all --check", || {
            cargo(&["fmt", "--all", "--check"], &[])
        })?;
        steps.run(
            "clippy",
            "cargo clippy --workspace --all-targets --locked -- -D warnings",
            || {
                cargo(
                    &[
                        "clippy",
                        "--workspace",
                        "--all-targets",
                        "--locked",
                        "--",
                        "-D",
                        "warnings",
                    ],
                    &[],
                )
            },
        )?;
        build_and_test(&mut steps)
    })();
    steps.summary(result.is_ok());
    result
}

fn test(args: &[String]) -> Result<()> {
    no_args("test", args)?;
    let mut steps = Steps::new("test", 3);
    let result = build_and_test(&mut steps);
    steps.summary(result.is_ok());
    result
}

/// The PostgreSQL, build and test steps. The throwaway cluster (if any) lives
/// until this returns, also when a step fails.
fn build_and_test(steps: &mut Steps) -> Result<()> {
    let (url, _pg_guard) = steps.run(
        "postgres",
        "PostgreSQL for the tests (DATABASE_URL or a throwaway cluster)",
        pg::database_url_or_temp,
    )?;
    steps.run("build", "cargo build --workspace --bins --locked", || {
        cargo(&["build", "--workspace", "--bins", "--locked"], &[])
    })?;
    steps.run(
        "test",
        "cargo test --workspace --locked (with DATABASE_URL)",
        || {
            cargo(
                &["test", "--workspace", "--locked"],
                &[("DATABASE_URL", url.as_str())],
            )
        },
    )
}

/// `cargo xtask chaos [--seed N] [--appointments N] [--seconds N] [--fault-rate X]`: the
/// chaos test (`tests/tests/chaos.rs`) with more appointments and a longer phase of
/// changes and kills than the short form that `cargo test` runs. Without `--seed` the
/// seed is drawn from the clock; it is printed either way.
fn chaos(args: &[String]) -> Result<()> {
    let mut env: Vec<(&str, String)> = vec![
        ("CHAOS_APPOINTMENTS", "300".to_owned()),
        ("CHAOS_SECONDS", "90".to_owned()),
    ];
    let mut seed = None;
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let name = match flag.as_str() {
            "--seed" => "CHAOS_SEED",
            "--appointments" => "CHAOS_APPOINTMENTS",
            "--seconds" => "CHAOS_SECONDS",
            "--fault-rate" => "CHAOS_FAULT_RATE",
            "--help" | "-h" => {
                println!(
                    "Usage: cargo xtask chaos [--seed N] [--appointments N (300)] [--seconds N (90)] [--fault-rate X (0.2)]"
                );
                return Ok(());
            }
            other => bail!("unknown option `{other}` (see cargo xtask chaos --help)"),
        };
        let value = rest
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        if value.parse::<f64>().is_err() {
            bail!("{flag} takes a number, not `{value}`");
        }
        if name == "CHAOS_SEED" {
            seed = Some(value.clone());
        }
        env.retain(|(k, _)| *k != name);
        env.push((name, value.clone()));
    }
    let seed = seed.unwrap_or_else(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        let seed = nanos % 1_000_000_007;
        env.push(("CHAOS_SEED", seed.to_string()));
        seed.to_string()
    });
    println!("chaos seed {seed} (repeat with: cargo xtask chaos --seed {seed})");
    let mut steps = Steps::new("chaos", 3);
    let result = (|| {
        let (url, _pg_guard) = steps.run(
            "postgres",
            "PostgreSQL (DATABASE_URL or a throwaway cluster)",
            pg::database_url_or_temp,
        )?;
        steps.run("build", "cargo build --workspace --bins --locked", || {
            cargo(&["build", "--workspace", "--bins", "--locked"], &[])
        })?;
        let mut envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        envs.push(("DATABASE_URL", url.as_str()));
        steps.run(
            "chaos",
            "cargo test -p tests --test chaos -- --nocapture",
            || {
                cargo(
                    &[
                        "test",
                        "-p",
                        "tests",
                        "--locked",
                        "--test",
                        "chaos",
                        "--",
                        "--nocapture",
                    ],
                    &envs,
                )
            },
        )
    })();
    steps.summary(result.is_ok());
    result
}

fn pg(args: &[String]) -> Result<()> {
    no_args("pg", args)?;
    let pg = pg::TempPostgres::start()?;
    println!();
    println!("DATABASE_URL={}", pg.url);
    println!();
    println!("Use it from another shell with:");
    println!("  export DATABASE_URL={}", pg.url);
    println!("Press Ctrl-C to stop the server and delete its data.");
    // Ctrl-C (or any other signal) kills this process; the cleanup watchdog
    // of `TempPostgres` then stops the server and removes its directory.
    loop {
        std::thread::park();
    }
}

// ----------------------------------------------------------------- helpers

pub(crate) fn workspace_root() -> PathBuf {
    let xtask_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask_dir.parent().unwrap_or(xtask_dir).to_path_buf()
}

/// Runs cargo (the one running us, if known) in the workspace root with the
/// inherited environment plus `envs`, streaming its output.
pub(crate) fn cargo(args: &[&str], envs: &[(&str, &str)]) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(args)
        .envs(envs.iter().copied())
        .current_dir(workspace_root());
    let status = cmd
        .status()
        .with_context(|| format!("could not run `cargo {}`", args.join(" ")))?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Runs steps with a header each and records how long each took.
struct Steps {
    command: &'static str,
    total: usize,
    started: Instant,
    done: Vec<(&'static str, Duration, bool)>,
}

impl Steps {
    fn new(command: &'static str, total: usize) -> Self {
        Steps {
            command,
            total,
            started: Instant::now(),
            done: Vec::new(),
        }
    }

    fn run<T>(
        &mut self,
        name: &'static str,
        description: &str,
        f: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        println!(
            "\n==> [{}/{}] {name}: {description}",
            self.done.len() + 1,
            self.total
        );
        let started = Instant::now();
        let result = f();
        self.done.push((name, started.elapsed(), result.is_ok()));
        result.with_context(|| format!("step `{name}` failed"))
    }

    fn summary(&self, ok: bool) {
        let steps: Vec<String> = self
            .done
            .iter()
            .map(|(name, elapsed, ok)| {
                let failed = if *ok { "" } else { " FAILED" };
                format!("{name} {}{failed}", fmt_duration(*elapsed))
            })
            .collect();
        println!(
            "\n==> {} {} in {}: {}",
            self.command,
            if ok { "passed" } else { "FAILED" },
            fmt_duration(self.started.elapsed()),
            steps.join(", ")
        );
    }
}

fn fmt_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        let whole = d.as_secs();
        format!("{}m{:02}s", whole / 60, whole % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_durations() {
        assert_eq!(fmt_duration(Duration::from_millis(1234)), "1.2s");
        assert_eq!(fmt_duration(Duration::from_secs(125)), "2m05s");
    }

    #[test]
    fn command_names_are_unique_and_not_help() {
        let mut names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), COMMANDS.len());
        assert!(!names.contains(&"help"));
    }

    #[test]
    fn workspace_root_has_the_workspace_manifest() {
        assert!(workspace_root().join("Cargo.toml").is_file());
        assert!(workspace_root().join("xtask").is_dir());
    }
}
