//! Helpers for end-to-end tests that play GHL's side of the webhooks.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::Value;
use sqlx::Connection;

use crate::Stack;

/// An Ed25519 key pair of the test's own, standing in for GHL's signing key.
pub struct Signer(Ed25519KeyPair);

impl Signer {
    pub fn new() -> Result<Self> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| anyhow::anyhow!("generating an Ed25519 key failed"))?;
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
            .map_err(|_| anyhow::anyhow!("reading the generated Ed25519 key failed"))?;
        Ok(Self(pair))
    }

    /// The public key as the api expects it in `GHL_WEBHOOK_ED25519_PUBLIC_KEY`.
    pub fn pem(&self) -> String {
        api::ghl_signature::ed25519_pem(self.0.public_key().as_ref())
    }

    /// Posts `body` to `/webhooks/ghl` signed with `X-GHL-Signature`.
    pub async fn deliver(&self, stack: &Stack, body: &Value) -> Result<(u16, Value)> {
        let bytes = body.to_string();
        let sig = base64::engine::general_purpose::STANDARD.encode(self.0.sign(bytes.as_bytes()));
        let response = stack
            .http
            .post(stack.api("/webhooks/ghl"))
            .header("content-type", "application/json")
            .header("x-ghl-signature", sig)
            .body(bytes)
            .send()
            .await?;
        crate::read(response).await
    }
}

/// Waits until no sync job is pending or running (the worker drained the queue).
pub async fn wait_for_drained_queue(stack: &Stack) -> Result<()> {
    let url = &stack.db.as_ref().context("the stack has no database")?.url;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let open: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM sync_jobs WHERE status IN ('pending', 'running')",
        )
        .fetch_one(&mut conn)
        .await?;
        if open == 0 {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!(
                "{open} sync jobs still open after 30 s\nworker log:\n{}",
                stack.worker.logs()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
