//! Reading instance metadata (IMDS) behind a small trait ([`InstanceMetadata`]), its IMDSv2
//! implementation over the AWS SDK's client ([`ImdsMetadata`]), and the two notices the sidecar
//! watches for: the Auto Scaling target lifecycle state and a Spot interruption.

use std::future::Future;
use std::time::Duration;

use aws_config::imds::client::error::ImdsError;
use aws_config::imds::Client;

use crate::error::Error;
use workpool::error_chain;

/// The path of the instance id.
pub const INSTANCE_ID: &str = "/latest/meta-data/instance-id";
/// The path of the Auto Scaling target lifecycle state (`InService`, `Terminated`, …).
pub const TARGET_LIFECYCLE_STATE: &str = "/latest/meta-data/autoscaling/target-lifecycle-state";
/// The path of a Spot interruption notice (404 until there is one).
pub const SPOT_INSTANCE_ACTION: &str = "/latest/meta-data/spot/instance-action";

/// Reads instance metadata.
pub trait InstanceMetadata: Send + Sync + 'static {
    /// The value at `path`, or `None` when the service answers 404 (no such item, e.g. no Spot notice).
    fn get(&self, path: &str) -> impl Future<Output = Result<Option<String>, Error>> + Send;
}

/// [`InstanceMetadata`] over IMDSv2 (a session token, then GETs), with the SDK's client.
#[derive(Debug, Clone)]
pub struct ImdsMetadata {
    client: Client,
}

impl ImdsMetadata {
    /// A client of the instance metadata service at `endpoint` (e.g. `http://169.254.169.254`), or
    /// where the SDK finds it (`AWS_EC2_METADATA_SERVICE_ENDPOINT`, the profile, the default).
    /// Requests give up after `timeout`.
    pub fn new(endpoint: Option<&str>, timeout: Duration) -> Result<Self, Error> {
        let mut builder = Client::builder()
            .connect_timeout(timeout)
            .read_timeout(timeout)
            .max_attempts(2);
        if let Some(endpoint) = endpoint {
            builder = builder
                .endpoint(endpoint)
                .map_err(|error| Error::InstanceMetadata {
                    path: endpoint.to_owned(),
                    reason: format!("invalid endpoint: {error}"),
                })?;
        }
        Ok(Self {
            client: builder.build(),
        })
    }
}

impl InstanceMetadata for ImdsMetadata {
    async fn get(&self, path: &str) -> Result<Option<String>, Error> {
        match self.client.get(path).await {
            Ok(value) => Ok(Some(value.as_ref().to_owned())),
            Err(ImdsError::ErrorResponse(response))
                if response.response().status().as_u16() == 404 =>
            {
                Ok(None)
            }
            Err(error) => Err(Error::InstanceMetadata {
                path: path.to_owned(),
                reason: error_chain(&error),
            }),
        }
    }
}

/// True when a target lifecycle state means this instance is being terminated (`Terminated`, or
/// `Warmed:Terminated` in a warm pool).
pub fn is_terminating(target_lifecycle_state: &str) -> bool {
    let state = target_lifecycle_state.trim();
    state == "Terminated" || state == "Warmed:Terminated"
}

/// What a Spot `instance-action` notice says: the action (`terminate`, `stop`, `hibernate`) and when.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct SpotNotice {
    /// The action EC2 will take.
    pub action: String,
    /// When, as EC2 writes it (UTC, e.g. `2017-09-18T08:22:00Z`).
    pub time: String,
}

/// Reads a Spot `instance-action` document; `None` when it is not one.
pub fn parse_spot_notice(document: &str) -> Option<SpotNotice> {
    serde_json::from_str(document).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_terminated_means_terminating() {
        assert!(is_terminating("Terminated"));
        assert!(is_terminating("Terminated\n"));
        assert!(is_terminating("Warmed:Terminated"));
        for state in ["InService", "Standby", "Warmed:Stopped", "Detached"] {
            assert!(!is_terminating(state), "{state}");
        }
    }

    #[test]
    fn a_spot_notice_is_read() {
        assert_eq!(
            parse_spot_notice(r#"{"action": "terminate", "time": "2017-09-18T08:22:00Z"}"#),
            Some(SpotNotice {
                action: "terminate".into(),
                time: "2017-09-18T08:22:00Z".into()
            })
        );
        assert_eq!(parse_spot_notice("<html>not found</html>"), None);
    }
}
