//! [`error_chain`]: an error and its causes in one line, for logs and error messages.

/// An error and its sources, each once, joined with `": "`.
///
/// A cause whose text the line already holds is left out: many errors (the AWS SDK's among them)
/// repeat their source's text in their own.
///
/// ```
/// let io = std::io::Error::other("connection refused");
/// let error = std::io::Error::other(io);
/// assert_eq!(workpool::error_chain(&error), "connection refused");
/// ```
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{text}")]
    struct Layer {
        text: &'static str,
        #[source]
        source: Option<Box<Layer>>,
    }

    fn layers(texts: &[&'static str]) -> Layer {
        texts
            .iter()
            .rev()
            .fold(None, |source, text| {
                Some(Layer {
                    text,
                    source: source.map(Box::new),
                })
            })
            .expect("one layer at least")
    }

    #[test]
    fn each_cause_appears_once() {
        assert_eq!(
            error_chain(&layers(&[
                "dispatch failure",
                "io error",
                "connection refused"
            ])),
            "dispatch failure: io error: connection refused"
        );
        assert_eq!(
            error_chain(&layers(&[
                "io error: connection refused",
                "connection refused"
            ])),
            "io error: connection refused"
        );
    }
}
