//! AWS SDK clients without `aws-config`.
//!
//! The SDKs are built with default features off (their default HTTPS client
//! compiles aws-lc, a long C build); this module supplies an HTTPS client on
//! rustls + ring instead, plus a region and static credentials. Lambda puts
//! the role's credentials in the environment, and the local stack uses
//! fixed development keys, so no provider chain is needed for either.

use std::time::Duration;

use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region, SharedHttpClient};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// Where AWS (or an AWS-compatible local server) is, and who we are to it.
#[derive(Clone)]
pub struct AwsSettings {
    /// Region requests are signed for.
    pub region: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// STS session token (Lambda's role credentials have one).
    pub session_token: Option<String>,
    /// S3 endpoint override, e.g. the local object store; `None` for AWS.
    pub s3_endpoint: Option<String>,
    /// DynamoDB endpoint override, e.g. a moto server; `None` for AWS.
    pub dynamodb_endpoint: Option<String>,
}

impl std::fmt::Debug for AwsSettings {
    // Never print the secret or the session token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsSettings")
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("s3_endpoint", &self.s3_endpoint)
            .field("dynamodb_endpoint", &self.dynamodb_endpoint)
            .finish_non_exhaustive()
    }
}

impl AwsSettings {
    /// Static settings with no endpoint overrides.
    pub fn new(region: &str, access_key_id: &str, secret_access_key: &str) -> Self {
        AwsSettings {
            region: region.to_owned(),
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
            session_token: None,
            s3_endpoint: None,
            dynamodb_endpoint: None,
        }
    }

    /// Reads `AWS_REGION` (or `AWS_DEFAULT_REGION`), `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, and the overrides
    /// `DREAMREEL_S3_ENDPOINT` and `DREAMREEL_DYNAMODB_ENDPOINT`.
    pub fn from_env() -> Result<Self, crate::ConfigError> {
        let get = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let need = |name: &'static str| get(name).ok_or(crate::ConfigError::Missing(name));
        Ok(AwsSettings {
            region: get("AWS_REGION")
                .or_else(|| get("AWS_DEFAULT_REGION"))
                .ok_or(crate::ConfigError::Missing("AWS_REGION"))?,
            access_key_id: need("AWS_ACCESS_KEY_ID")?,
            secret_access_key: need("AWS_SECRET_ACCESS_KEY")?,
            session_token: get("AWS_SESSION_TOKEN"),
            s3_endpoint: get("DREAMREEL_S3_ENDPOINT"),
            dynamodb_endpoint: get("DREAMREEL_DYNAMODB_ENDPOINT"),
        })
    }

    fn credentials(&self) -> Credentials {
        Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            self.session_token.clone(),
            None,
            "dreamreel-static",
        )
    }

    /// An S3 client: path-style addressing (what local S3-compatible stores
    /// serve, and safe for bucket names with dots on AWS).
    pub fn s3_client(&self) -> aws_sdk_s3::Client {
        let mut config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .credentials_provider(self.credentials())
            .http_client(http_client())
            .timeout_config(timeouts())
            .force_path_style(true);
        if let Some(url) = &self.s3_endpoint {
            config = config.endpoint_url(url);
        }
        aws_sdk_s3::Client::from_conf(config.build())
    }

    /// A DynamoDB client.
    pub fn dynamodb_client(&self) -> aws_sdk_dynamodb::Client {
        let mut config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new(self.region.clone()))
            .credentials_provider(self.credentials())
            .http_client(http_client())
            .timeout_config(timeouts());
        if let Some(url) = &self.dynamodb_endpoint {
            config = config.endpoint_url(url);
        }
        aws_sdk_dynamodb::Client::from_conf(config.build())
    }
}

/// The SDKs' HTTP(S) client: hyper 1 with rustls on ring; plain `http://`
/// endpoints work too.
pub fn http_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

fn timeouts() -> TimeoutConfig {
    // Connect fast-fails a dead endpoint; an attempt may carry a whole MP4
    // upload (a few MB), so it gets a generous bound.
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(Duration::from_secs(60))
        .build()
}
