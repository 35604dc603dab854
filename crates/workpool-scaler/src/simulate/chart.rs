//! A hand-written SVG chart of a simulation: backlog on top, desired and in-service capacity below.

use std::fmt::Write;

use crate::simulate::report::{Sample, SimulationReport};

const WIDTH: f64 = 960.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const PANEL_HEIGHT: f64 = 190.0;
const TOP_PANEL_Y: f64 = 50.0;
const BOTTOM_PANEL_Y: f64 = 300.0;
const HEIGHT: f64 = 540.0;

/// Renders the run as an SVG document: waiting and in-flight messages over time in the top panel,
/// desired and in-service instances in the bottom one.
pub fn render_svg(report: &SimulationReport, title: &str) -> String {
    let samples = &report.samples;
    let end = samples.last().map_or(1, |s| s.second.max(1)) as f64;
    let backlog_max = nice_max(
        samples
            .iter()
            .map(|s| s.visible.max(s.in_flight) as f64)
            .fold(0.0, f64::max),
    );
    let capacity_max = nice_max(
        samples
            .iter()
            .map(|s| f64::from(s.desired.max(s.in_service)))
            .fold(0.0, f64::max),
    );
    let x = |second: u64| LEFT + (second as f64 / end) * (WIDTH - LEFT - RIGHT);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="24" font-size="15" font-weight="bold">{}</text>"#,
        escape(title)
    );
    for (panel_y, label, max) in [
        (TOP_PANEL_Y, "messages", backlog_max),
        (BOTTOM_PANEL_Y, "instances", capacity_max),
    ] {
        axes(&mut svg, panel_y, label, max, end);
    }
    let top = |value: f64| TOP_PANEL_Y + PANEL_HEIGHT - value / backlog_max * PANEL_HEIGHT;
    let bottom = |value: f64| BOTTOM_PANEL_Y + PANEL_HEIGHT - value / capacity_max * PANEL_HEIGHT;
    let series = [
        Series {
            name: "waiting (V)",
            colour: "#1f77b4",
            dash: "",
            top_panel: true,
            value: |s| s.visible as f64,
        },
        Series {
            name: "in flight (F)",
            colour: "#9467bd",
            dash: "",
            top_panel: true,
            value: |s| s.in_flight as f64,
        },
        Series {
            name: "desired",
            colour: "#ff7f0e",
            dash: "6 3",
            top_panel: false,
            value: |s| f64::from(s.desired),
        },
        Series {
            name: "in service",
            colour: "#2ca02c",
            dash: "",
            top_panel: false,
            value: |s| f64::from(s.in_service),
        },
    ];
    for (index, line) in series.iter().enumerate() {
        let Series {
            name,
            colour,
            dash,
            top_panel,
            value,
        } = *line;
        let scale = |v: f64| if top_panel { top(v) } else { bottom(v) };
        let mut points = String::new();
        let mut previous: Option<f64> = None;
        for sample in samples {
            let y = scale(value(sample));
            if let Some(previous) = previous {
                let _ = write!(points, "{:.1},{:.1} ", x(sample.second), previous);
            }
            let _ = write!(points, "{:.1},{:.1} ", x(sample.second), y);
            previous = Some(y);
        }
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="1.5" stroke-dasharray="{dash}" points="{}"/>"#,
            points.trim_end()
        );
        let legend_y = if index < 2 {
            TOP_PANEL_Y
        } else {
            BOTTOM_PANEL_Y
        } - 8.0;
        let legend_x = WIDTH - RIGHT - 230.0 + (index % 2) as f64 * 115.0;
        let _ = writeln!(
            svg,
            r#"<line x1="{legend_x}" y1="{ly}" x2="{lx2}" y2="{ly}" stroke="{colour}" stroke-width="3" stroke-dasharray="{dash}"/><text x="{tx}" y="{ty}">{name}</text>"#,
            ly = legend_y - 4.0,
            lx2 = legend_x + 18.0,
            tx = legend_x + 22.0,
            ty = legend_y,
        );
    }
    let _ = writeln!(
        svg,
        r##"<text x="{LEFT}" y="{}" fill="#444">wait p50 {} s, p99 {} s · {:.0} instance-minutes (lower bound {:.0}, ratio {:.2}) · {} scaling actions</text>"##,
        HEIGHT - 10.0,
        report.p50_wait.as_secs(),
        report.p99_wait.as_secs(),
        report.instance_minutes(),
        report.lower_bound_minutes(),
        report.cost_ratio(),
        report.scale_outs + report.scale_ins,
    );
    svg.push_str("</svg>\n");
    svg
}

/// One line of the chart.
#[derive(Clone, Copy)]
struct Series {
    name: &'static str,
    colour: &'static str,
    dash: &'static str,
    top_panel: bool,
    value: fn(&Sample) -> f64,
}

fn axes(svg: &mut String, panel_y: f64, label: &str, max: f64, end: f64) {
    let bottom = panel_y + PANEL_HEIGHT;
    let right = WIDTH - RIGHT;
    let _ = writeln!(
        svg,
        r##"<rect x="{LEFT}" y="{panel_y}" width="{}" height="{PANEL_HEIGHT}" fill="none" stroke="#999"/>"##,
        right - LEFT
    );
    for step in 0..=4 {
        let value = max * f64::from(step) / 4.0;
        let y = bottom - f64::from(step) / 4.0 * PANEL_HEIGHT;
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{right}" y2="{y:.1}" stroke="#eee"/><text x="{}" y="{:.1}" text-anchor="end">{value:.0}</text>"##,
            LEFT - 6.0,
            y + 4.0
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="14" y="{:.1}" transform="rotate(-90 14 {:.1})" text-anchor="middle">{label}</text>"#,
        panel_y + PANEL_HEIGHT / 2.0,
        panel_y + PANEL_HEIGHT / 2.0
    );
    let minutes = end / 60.0;
    let tick = [1.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 240.0]
        .into_iter()
        .find(|tick| minutes / tick <= 12.0)
        .unwrap_or(480.0);
    let mut minute = 0.0;
    while minute <= minutes {
        let x = LEFT + minute * 60.0 / end * (right - LEFT);
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{bottom}" x2="{x:.1}" y2="{}" stroke="#999"/><text x="{x:.1}" y="{}" text-anchor="middle">{minute:.0} min</text>"##,
            bottom + 4.0,
            bottom + 17.0
        );
        minute += tick;
    }
}

/// A round axis maximum at or above `value` (at least 1).
fn nice_max(value: f64) -> f64 {
    let value = value.max(1.0);
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|candidate| *candidate >= value)
        .unwrap_or(10.0 * magnitude)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_series_and_the_summary() {
        let report = SimulationReport {
            samples: vec![
                Sample {
                    second: 0,
                    visible: 10,
                    in_flight: 0,
                    desired: 1,
                    in_service: 0,
                },
                Sample {
                    second: 60,
                    visible: 0,
                    in_flight: 4,
                    desired: 1,
                    in_service: 1,
                },
            ],
            ..Default::default()
        };
        let svg = render_svg(&report, "spike <test>");
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 4);
        assert!(svg.contains("spike &lt;test&gt;"));
    }

    #[test]
    fn axis_maxima_are_round() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(180.0), 200.0);
        assert_eq!(nice_max(2400.0), 2500.0);
    }
}
