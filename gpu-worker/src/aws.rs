//! AWS SDK clients without `aws-config`.
//!
//! The SDKs are built with default features off (their default HTTPS client
//! compiles aws-lc, a long C build); this module supplies an HTTPS client on
//! rustls + ring instead, plus a region and credentials. Lambda puts the
//! role's credentials in the environment and the local stack uses fixed
//! development keys; an ECS task (the GPU service) gets its role's from the
//! container credentials endpoint ([`crate::credentials`]). Those three are
//! all the sources the worker needs, so no general provider chain.

use std::time::Duration;

use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, SharedCredentialsProvider, SharedHttpClient,
};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

use crate::credentials::ContainerCredentials;

/// Where AWS (or an AWS-compatible local server) is, and who we are to it.
#[derive(Clone)]
pub struct AwsSettings {
    /// Region requests are signed for.
    pub region: String,
    /// Access key id (empty when `container_credentials` is used).
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// STS session token (Lambda's role credentials have one).
    pub session_token: Option<String>,
    /// S3 endpoint override, e.g. the local object store; `None` for AWS.
    pub s3_endpoint: Option<String>,
    /// DynamoDB endpoint override, e.g. a moto server; `None` for AWS.
    pub dynamodb_endpoint: Option<String>,
    /// SQS endpoint override, e.g. a moto server; `None` for AWS.
    pub sqs_endpoint: Option<String>,
    /// Role credentials from the container endpoint; when set, they are
    /// used instead of the static keys.
    pub container_credentials: Option<ContainerCredentials>,
}

impl std::fmt::Debug for AwsSettings {
    // Never print the secret or the session token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsSettings")
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("s3_endpoint", &self.s3_endpoint)
            .field("dynamodb_endpoint", &self.dynamodb_endpoint)
            .field("sqs_endpoint", &self.sqs_endpoint)
            .field("container_credentials", &self.container_credentials)
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
            sqs_endpoint: None,
            container_credentials: None,
        }
    }

    /// Reads `AWS_REGION` (or `AWS_DEFAULT_REGION`) and the credentials:
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`
    /// when the key id is set, else the container credentials endpoint
    /// (see [`ContainerCredentials::from_env`]); and the overrides
    /// `DREAMREEL_S3_ENDPOINT`, `DREAMREEL_DYNAMODB_ENDPOINT`, `DREAMREEL_SQS_ENDPOINT`.
    pub fn from_env() -> Result<Self, crate::ConfigError> {
        Self::from_vars(&|name| std::env::var(name).ok())
    }

    /// [`AwsSettings::from_env`] over any variable lookup.
    pub fn from_vars(var: &dyn Fn(&str) -> Option<String>) -> Result<Self, crate::ConfigError> {
        let get = |name: &str| var(name).filter(|v| !v.is_empty());
        let region = get("AWS_REGION")
            .or_else(|| get("AWS_DEFAULT_REGION"))
            .ok_or(crate::ConfigError::Missing("AWS_REGION"))?;
        let mut settings = AwsSettings::new(&region, "", "");
        if let Some(key_id) = get("AWS_ACCESS_KEY_ID") {
            settings.access_key_id = key_id;
            settings.secret_access_key = get("AWS_SECRET_ACCESS_KEY")
                .ok_or(crate::ConfigError::Missing("AWS_SECRET_ACCESS_KEY"))?;
            settings.session_token = get("AWS_SESSION_TOKEN");
        } else {
            settings.container_credentials = Some(ContainerCredentials::from_vars(var)?.ok_or(
                crate::ConfigError::Missing(
                    "AWS_ACCESS_KEY_ID (or, on ECS, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI \
                     or AWS_CONTAINER_CREDENTIALS_FULL_URI)",
                ),
            )?);
        }
        settings.s3_endpoint = get("DREAMREEL_S3_ENDPOINT");
        settings.dynamodb_endpoint = get("DREAMREEL_DYNAMODB_ENDPOINT");
        settings.sqs_endpoint = get("DREAMREEL_SQS_ENDPOINT");
        Ok(settings)
    }

    /// The container provider when there is one, else the static keys.
    fn credentials(&self) -> SharedCredentialsProvider {
        match &self.container_credentials {
            Some(provider) => SharedCredentialsProvider::new(provider.clone()),
            None => SharedCredentialsProvider::new(Credentials::new(
                &self.access_key_id,
                &self.secret_access_key,
                self.session_token.clone(),
                None,
                "dreamreel-static",
            )),
        }
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

    /// An SQS client (the GPU host's queue consumer).
    pub fn sqs_client(&self) -> aws_sdk_sqs::Client {
        // A long poll holds the connection for up to 20 s: give the attempt room.
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(5))
            .operation_attempt_timeout(Duration::from_secs(40))
            .build();
        let mut config = aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .region(aws_sdk_sqs::config::Region::new(self.region.clone()))
            .credentials_provider(self.credentials())
            .http_client(http_client())
            .timeout_config(timeouts);
        if let Some(url) = &self.sqs_endpoint {
            config = config.endpoint_url(url);
        }
        aws_sdk_sqs::Client::from_conf(config.build())
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

#[cfg(test)]
mod tests {
    use super::AwsSettings;
    use crate::ConfigError;

    fn settings(vars: &[(&str, &str)]) -> Result<AwsSettings, ConfigError> {
        AwsSettings::from_vars(&|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn static_keys_win_over_the_container_endpoint() {
        let aws = settings(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            (
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                "/v2/credentials/x",
            ),
        ])
        .unwrap();
        assert_eq!(aws.access_key_id, "AKID");
        assert!(aws.container_credentials.is_none());
        assert!(matches!(
            settings(&[("AWS_REGION", "r"), ("AWS_ACCESS_KEY_ID", "AKID")]),
            Err(ConfigError::Missing("AWS_SECRET_ACCESS_KEY"))
        ));
    }

    #[test]
    fn an_ecs_task_uses_the_container_endpoint() {
        let aws = settings(&[
            ("AWS_REGION", "eu-west-1"),
            (
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                "/v2/credentials/x",
            ),
            ("DREAMREEL_SQS_ENDPOINT", "http://127.0.0.1:1"),
        ])
        .unwrap();
        let debug = format!("{aws:?}");
        assert!(debug.contains("169.254.170.2/v2/credentials/x"), "{debug}");
        assert_eq!(aws.sqs_endpoint.as_deref(), Some("http://127.0.0.1:1"));
        let full = settings(&[
            ("AWS_REGION", "r"),
            (
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "http://127.0.0.1:9/creds",
            ),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "tok"),
        ])
        .unwrap();
        assert!(format!("{full:?}").contains("127.0.0.1:9/creds"));
        // Clients build with either source.
        let _ = (aws.s3_client(), full.dynamodb_client(), full.sqs_client());
    }

    #[test]
    fn no_credentials_at_all_is_a_clear_config_error() {
        let e = settings(&[("AWS_REGION", "eu-west-1")]).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("AWS_ACCESS_KEY_ID") && text.contains("AWS_CONTAINER_CREDENTIALS"),
            "{text}"
        );
        let e = settings(&[
            ("AWS_REGION", "r"),
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "ftp://nope"),
        ])
        .unwrap_err();
        assert!(matches!(e, ConfigError::Invalid { .. }), "{e}");
    }
}
