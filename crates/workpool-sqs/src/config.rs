//! Loading the AWS configuration, with an optional endpoint override (the emulator, LocalStack, a VPC
//! endpoint).

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// The region used when an endpoint override is given and no region is configured: emulators accept
/// any region, and the SDK needs one to sign requests.
pub const EMULATOR_DEFAULT_REGION: &str = "us-east-1";

/// Loads the AWS configuration from the environment (variables, profile, instance role — the
/// SDK's default chains) and applies `endpoint` as the endpoint override when given.
///
/// With an override and no region configured, the region is [`EMULATOR_DEFAULT_REGION`]. Without an
/// override, `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_SQS` still apply, as the SDK reads them itself.
pub async fn aws_config_for(endpoint: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    let config = loader.load().await;
    if endpoint.is_some() && config.region().is_none() {
        return config
            .into_builder()
            .region(Region::from_static(EMULATOR_DEFAULT_REGION))
            .build();
    }
    config
}

/// How the endpoint a configuration sends SQS requests to reads in an error message.
pub(crate) fn describe_endpoint(config: &SdkConfig) -> String {
    match (config.endpoint_url(), config.region()) {
        (Some(url), _) => url.to_owned(),
        (None, Some(region)) => format!("https://sqs.{region}.amazonaws.com"),
        (None, None) => "the default SQS endpoint (no region is configured: set AWS_REGION)".into(),
    }
}
