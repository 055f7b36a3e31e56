//! Every binary answers `--help`, and never shows a secret in it.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::process::Command;

use tests::binary;

#[test]
fn every_binary_has_help_that_hides_secret_values() {
    for name in ["api", "worker", "ghl-sim"] {
        let output = Command::new(binary(name).unwrap())
            .arg("--help")
            .env("JWT_SECRET", "super-secret-jwt-value-0123456789abcdef")
            .env("GHL_API_KEY", "super-secret-ghl-token")
            .env("DATABASE_URL", "postgres://user:super-secret-password@db/x")
            .output()
            .unwrap();
        assert!(output.status.success(), "{name} --help failed");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.contains("Usage"), "{name}: {text}");
        assert!(
            !text.contains("super-secret"),
            "{name} --help shows a secret:\n{text}"
        );
    }
}

#[test]
fn the_api_refuses_a_short_jwt_secret_in_production() {
    let output = Command::new(binary("api").unwrap())
        .env_clear()
        .env("DATABASE_URL", "postgres://127.0.0.1:1/none")
        .env("GHL_LOCATION_ID", "loc")
        .env("JWT_SECRET", "short")
        .env("APP_ENV", "production")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("JWT_SECRET must be at least 32 bytes"),
        "{stderr}"
    );
    assert!(!stderr.contains("short\""), "{stderr}");
}
