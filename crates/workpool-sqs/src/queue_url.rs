//! Queue URLs: checking that one parses and reading the queue's name and kind from it.

use crate::Error;

/// A parsed SQS queue URL, such as `https://sqs.us-east-1.amazonaws.com/123456789012/jobs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueUrl {
    url: String,
    origin_end: usize,
    name_start: usize,
}

impl QueueUrl {
    /// Parses a queue URL: an `http` or `https` scheme, a host, and a path whose last segment is a
    /// valid queue name (1 to 80 letters, digits, `-` or `_`, plus `.fifo` for FIFO queues).
    pub fn parse(url: &str) -> Result<Self, Error> {
        let invalid = |reason: &str| Error::InvalidQueueUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        if url.trim() != url || url.chars().any(char::is_whitespace) {
            return Err(invalid("it contains whitespace"));
        }
        let rest = if let Some(rest) = url.strip_prefix("https://") {
            rest
        } else if let Some(rest) = url.strip_prefix("http://") {
            rest
        } else {
            return Err(invalid("it must start with https:// or http://"));
        };
        let scheme_len = url.len() - rest.len();
        let host_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let host = &rest[..host_len];
        if host.is_empty() {
            return Err(invalid("it has no host"));
        }
        if let Some((_, port)) = host.rsplit_once(':') {
            if !host.ends_with(']') && port.parse::<u16>().is_err() {
                return Err(invalid("its port is not a number from 0 to 65535"));
            }
        }
        let path = &rest[host_len..];
        if path.contains(['?', '#']) {
            return Err(invalid("a queue URL has no query or fragment"));
        }
        let path = path.trim_end_matches('/');
        let Some(slash) = path.rfind('/') else {
            return Err(invalid(
                "it has no path; the queue name is its last segment",
            ));
        };
        let name = &path[slash + 1..];
        check_queue_name(name).map_err(|reason| invalid(&reason))?;
        let origin_end = scheme_len + host_len;
        let name_start = origin_end + slash + 1;
        Ok(Self {
            url: url[..name_start + name.len()].to_owned(),
            origin_end,
            name_start,
        })
    }

    /// The whole URL (without a trailing slash).
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The queue's name, the URL's last path segment.
    pub fn name(&self) -> &str {
        &self.url[self.name_start..]
    }

    /// Scheme, host and port: `https://sqs.us-east-1.amazonaws.com`.
    pub fn origin(&self) -> &str {
        &self.url[..self.origin_end]
    }

    /// True for a FIFO queue (the name ends in `.fifo`).
    pub fn is_fifo(&self) -> bool {
        self.name().ends_with(".fifo")
    }
}

impl std::fmt::Display for QueueUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

/// Checks SQS's rule for queue names; the error says what is wrong.
pub(crate) fn check_queue_name(name: &str) -> Result<(), String> {
    let stem = name.strip_suffix(".fifo").unwrap_or(name);
    if stem.is_empty() {
        return Err("the queue name (the last path segment) is empty".into());
    }
    if name.len() > 80 {
        return Err(format!(
            "the queue name `{name}` is longer than 80 characters"
        ));
    }
    if let Some(bad) = stem
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(format!(
            "the queue name `{name}` contains `{bad}`; names use letters, digits, `-` and `_`, \
             plus `.fifo` for FIFO queues"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_aws_url_gives_name_origin_and_kind() {
        let url = QueueUrl::parse("https://sqs.us-east-1.amazonaws.com/123456789012/jobs").unwrap();
        assert_eq!(url.name(), "jobs");
        assert_eq!(url.origin(), "https://sqs.us-east-1.amazonaws.com");
        assert!(!url.is_fifo());
    }

    #[test]
    fn an_emulator_url_with_a_port_and_fifo_suffix_parses() {
        let url = QueueUrl::parse("http://127.0.0.1:4566/000000000000/orders.fifo/").unwrap();
        assert_eq!(url.name(), "orders.fifo");
        assert_eq!(url.origin(), "http://127.0.0.1:4566");
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:4566/000000000000/orders.fifo"
        );
        assert!(url.is_fifo());
    }

    #[test]
    fn urls_that_do_not_parse_are_rejected_with_the_reason() {
        for (url, reason) in [
            ("sqs.us-east-1.amazonaws.com/1/jobs", "https://"),
            ("https:///1/jobs", "no host"),
            ("https://sqs.example.com", "no path"),
            ("https://sqs.example.com/", "no path"),
            ("https://sqs.example.com:http/1/jobs", "port"),
            ("https://sqs.example.com/1/jo bs", "whitespace"),
            ("https://sqs.example.com/1/jobs!", "contains `!`"),
            ("https://sqs.example.com/1/jobs?x=1", "query"),
            ("https://sqs.example.com/1/.fifo", "empty"),
        ] {
            let error = QueueUrl::parse(url).unwrap_err();
            let text = error.to_string();
            assert!(text.contains(url), "{text}");
            assert!(text.contains(reason), "{url}: {text}");
        }
    }
}
