//! The demo's chart: the run's samples drawn by the simulator's SVG writer (backlog and in flight on
//! top, desired and in-service instances below), with the measured figures in the footer.

use workpool_scaler::simulate::{render_svg, Sample, SimulationReport};

use super::report::DemoReport;

/// Renders the samples (one per second) and the report as an SVG document.
pub fn chart_svg(samples: &[Sample], report: &DemoReport, title: &str) -> String {
    let simulation = SimulationReport {
        messages: report.sent,
        unfinished: report.still_queued,
        p50_wait: report.p50_wait,
        p99_wait: report.p99_wait,
        max_wait: report.max_wait,
        instance_seconds: report.instance_seconds.round() as u64,
        lower_bound_instance_seconds: report.lower_bound_instance_seconds.round() as u64,
        scale_outs: report.scale_outs,
        scale_ins: report.scale_ins,
        simulated_seconds: report.elapsed.as_secs(),
        samples: samples.to_vec(),
        ..SimulationReport::default()
    };
    render_svg(&simulation, title)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_the_samples_and_the_title() {
        let samples = [
            Sample {
                second: 0,
                visible: 0,
                in_flight: 0,
                desired: 0,
                in_service: 0,
            },
            Sample {
                second: 1,
                visible: 40,
                in_flight: 8,
                desired: 3,
                in_service: 2,
            },
        ];
        let svg = chart_svg(&samples, &DemoReport::default(), "workpool demo");
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("workpool demo"));
        assert_eq!(svg.matches("<polyline").count(), 4);
    }
}
