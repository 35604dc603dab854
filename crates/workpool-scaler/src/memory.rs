//! In-memory ports for tests and the demo: a queue depth you set by hand and a metrics sink that
//! remembers what it was given.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use crate::error::Error;
use crate::observation::QueueReading;
use crate::ports::{MetricsSink, PublishedDepth, QueueDepth, TickMetrics};

/// A queue whose depth is whatever was last set; cloning shares it.
#[derive(Debug, Clone)]
pub struct StaticQueueDepth {
    name: String,
    reading: Arc<Mutex<Result<QueueReading, String>>>,
}

impl StaticQueueDepth {
    /// An empty queue with this name.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            reading: Arc::new(Mutex::new(Ok(QueueReading::default()))),
        }
    }

    /// Sets the depth the next reads return.
    pub fn set(&self, reading: QueueReading) {
        *self.reading.lock().unwrap_or_else(PoisonError::into_inner) = Ok(reading);
    }

    /// Makes the next reads fail with this message.
    pub fn fail(&self, message: impl Into<String>) {
        *self.reading.lock().unwrap_or_else(PoisonError::into_inner) = Err(message.into());
    }
}

impl QueueDepth for StaticQueueDepth {
    fn queue_name(&self) -> &str {
        &self.name
    }

    async fn read(&self) -> Result<QueueReading, Error> {
        let reading = self
            .reading
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        reading.map_err(|message| Error::Aws {
            operation: "GetQueueAttributes",
            resource: self.name.clone(),
            message,
        })
    }
}

/// A metrics sink that keeps every tick's figures; cloning shares them.
#[derive(Debug, Clone, Default)]
pub struct RecordingMetrics {
    published: Arc<Mutex<Vec<TickMetrics>>>,
}

impl RecordingMetrics {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything published so far, oldest first.
    pub fn published(&self) -> Vec<TickMetrics> {
        self.published
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl MetricsSink for RecordingMetrics {
    async fn publish(&self, metrics: &TickMetrics) -> Result<(), Error> {
        self.published
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(metrics.clone());
        Ok(())
    }

    /// Each figure published for the pair since `since` as a period of its own.
    async fn published_depth(
        &self,
        queue_name: &str,
        group_name: &str,
        since: SystemTime,
    ) -> Result<Vec<PublishedDepth>, Error> {
        Ok(self
            .published()
            .iter()
            .filter(|m| m.queue_name == queue_name && m.group_name == group_name && m.at >= since)
            .map(|m| PublishedDepth {
                from: m.at,
                until: m.at,
                most: m.visible + m.not_visible + m.delayed,
            })
            .collect())
    }
}
