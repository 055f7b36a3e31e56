//! Configuration of the GHL webhook endpoints (flattened into [`crate::config::Config`]).

use std::time::Duration;

use clap::Args;
use secrecy::SecretString;

use crate::config::AppEnv;
use crate::ghl_signature::{
    GHL_ED25519_PUBLIC_KEY, GHL_RSA_PUBLIC_KEY, KeyError, SignatureVerifier,
};

/// Default largest webhook body accepted (bytes).
pub const DEFAULT_WEBHOOK_MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Debug, Args)]
pub struct WebhookConfig {
    /// PEM of the Ed25519 key that verifies X-GHL-Signature (default: GHL's published key).
    #[arg(long, env = "GHL_WEBHOOK_ED25519_PUBLIC_KEY", global = true)]
    pub ghl_webhook_ed25519_public_key: Option<String>,

    /// PEM of the RSA key that verifies the legacy X-WH-Signature (default: GHL's published key).
    #[arg(long, env = "GHL_WEBHOOK_RSA_PUBLIC_KEY", global = true)]
    pub ghl_webhook_rsa_public_key: Option<String>,

    /// Accept webhooks without verifying signatures. Refused in production; logged loudly elsewhere.
    #[arg(
        long,
        env = "GHL_SKIP_SIGNATURE_VALIDATION",
        default_value_t = false,
        action = clap::ArgAction::Set,
        global = true
    )]
    pub ghl_skip_signature_validation: bool,

    /// Replay window: a webhook whose `timestamp` is further than this from now is refused (0 = no check).
    #[arg(
        long,
        env = "GHL_WEBHOOK_TOLERANCE_SECONDS",
        default_value_t = 300,
        global = true
    )]
    pub ghl_webhook_tolerance_seconds: u64,

    /// Largest webhook body accepted, in bytes (larger: 413).
    #[arg(
        long,
        env = "GHL_WEBHOOK_MAX_BODY_BYTES",
        default_value_t = DEFAULT_WEBHOOK_MAX_BODY_BYTES,
        global = true
    )]
    pub ghl_webhook_max_body_bytes: usize,

    /// Shared secret of workflow webhooks (header X-Webhook-Secret); unset: the path answers 404.
    #[arg(
        long,
        env = "GHL_WORKFLOW_WEBHOOK_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub ghl_workflow_webhook_secret: Option<String>,

    /// Identical workflow webhook bodies within this many seconds are one delivery.
    #[arg(
        long,
        env = "GHL_WORKFLOW_DEDUP_SECONDS",
        default_value_t = 300,
        global = true
    )]
    pub ghl_workflow_dedup_seconds: u64,

    /// How often stored but unprocessed webhook events are retried (also once at start-up).
    #[arg(
        long,
        env = "WEBHOOK_RETRY_INTERVAL_SECONDS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..),
        global = true
    )]
    pub webhook_retry_interval_seconds: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookConfigError {
    #[error(
        "GHL_SKIP_SIGNATURE_VALIDATION=true is refused in production (APP_ENV=production): unsigned webhooks could forge leads and appointment changes"
    )]
    SkipInProduction,
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("GHL_WORKFLOW_WEBHOOK_SECRET must be at least 16 bytes in production")]
    ShortWorkflowSecret,
}

/// The validated webhook settings.
#[derive(Debug)]
pub struct WebhookSettings {
    pub verifier: SignatureVerifier,
    pub skip_signatures: bool,
    pub tolerance: Option<Duration>,
    pub max_body_bytes: usize,
    pub workflow_secret: Option<SecretString>,
    pub workflow_window: Duration,
    pub retry_interval: Duration,
}

impl WebhookConfig {
    pub fn settings(
        &self,
        env: AppEnv,
        warnings: &mut Vec<String>,
    ) -> Result<WebhookSettings, WebhookConfigError> {
        if self.ghl_skip_signature_validation {
            match env {
                AppEnv::Production => return Err(WebhookConfigError::SkipInProduction),
                AppEnv::Development => warnings.push(
                    "GHL_SKIP_SIGNATURE_VALIDATION=true: webhook signatures are NOT verified; anyone can forge GHL events (development only)".into(),
                ),
            }
        }
        let verifier = SignatureVerifier::from_pems(
            self.ghl_webhook_ed25519_public_key
                .as_deref()
                .unwrap_or(GHL_ED25519_PUBLIC_KEY),
            self.ghl_webhook_rsa_public_key
                .as_deref()
                .unwrap_or(GHL_RSA_PUBLIC_KEY),
        )?;
        let workflow_secret = self
            .ghl_workflow_webhook_secret
            .as_deref()
            .filter(|s| !s.is_empty());
        if let Some(secret) = workflow_secret
            && secret.len() < 16
        {
            match env {
                AppEnv::Production => return Err(WebhookConfigError::ShortWorkflowSecret),
                AppEnv::Development => {
                    warnings.push("GHL_WORKFLOW_WEBHOOK_SECRET is shorter than 16 bytes".into())
                }
            }
        }
        Ok(WebhookSettings {
            verifier,
            skip_signatures: self.ghl_skip_signature_validation,
            tolerance: (self.ghl_webhook_tolerance_seconds > 0)
                .then(|| Duration::from_secs(self.ghl_webhook_tolerance_seconds)),
            max_body_bytes: self.ghl_webhook_max_body_bytes,
            workflow_secret: workflow_secret.map(|s| SecretString::from(s.to_owned())),
            workflow_window: Duration::from_secs(self.ghl_workflow_dedup_seconds),
            retry_interval: Duration::from_secs(self.webhook_retry_interval_seconds),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use clap::Parser;

    use super::*;
    use crate::config::Cli;

    fn parse(args: &[&str]) -> WebhookConfig {
        let mut all = vec!["api"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).unwrap().config.webhooks
    }

    #[test]
    fn skipping_signatures_is_refused_in_production_and_warned_about_in_development() {
        let config = parse(&["--ghl-skip-signature-validation", "true"]);
        let mut warnings = Vec::new();
        assert!(matches!(
            config.settings(AppEnv::Production, &mut warnings),
            Err(WebhookConfigError::SkipInProduction)
        ));
        let settings = config.settings(AppEnv::Development, &mut warnings).unwrap();
        assert!(settings.skip_signatures);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("NOT verified"));
    }

    #[test]
    fn defaults_are_ghls_keys_a_five_minute_window_and_no_workflow_path() {
        if std::env::vars()
            .any(|(k, _)| k.starts_with("GHL_WEBHOOK") || k.starts_with("GHL_WORKFLOW"))
        {
            return; // the environment overrides the defaults
        }
        let settings = parse(&[])
            .settings(AppEnv::Production, &mut Vec::new())
            .unwrap();
        assert_eq!(settings.tolerance, Some(Duration::from_secs(300)));
        assert_eq!(settings.max_body_bytes, 256 * 1024);
        assert!(settings.workflow_secret.is_none());
        assert!(!settings.skip_signatures);
    }

    #[test]
    fn a_bad_key_is_refused_at_start_up() {
        let config = parse(&["--ghl-webhook-ed25519-public-key", "garbage"]);
        assert!(matches!(
            config.settings(AppEnv::Development, &mut Vec::new()),
            Err(WebhookConfigError::Key(_))
        ));
    }
}
