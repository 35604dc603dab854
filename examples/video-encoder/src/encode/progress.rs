//! Reading ffmpeg's `-progress` output: blocks of `key=value` lines, each ended by
//! `progress=continue` or `progress=end` ([`ProgressReader`]), and when to log them ([`Milestones`]).

use std::time::Duration;

/// Where an encode stands, after one progress block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// How much of the output has been encoded, in play time.
    pub encoded: Duration,
    /// Encoding speed relative to real time (`2.0` = twice as fast as playback), when known.
    pub speed: Option<f64>,
    /// True on the last block (`progress=end`).
    pub finished: bool,
}

impl Progress {
    /// The share of `total` encoded, as a whole percentage from 0 to 100.
    pub fn percent_of(&self, total: Duration) -> u32 {
        if self.finished {
            return 100;
        }
        if total.is_zero() {
            return 0;
        }
        let share = self.encoded.as_secs_f64() / total.as_secs_f64();
        (share * 100.0).clamp(0.0, 100.0) as u32
    }
}

/// Folds `-progress` lines into [`Progress`] values, one per block.
#[derive(Debug, Default)]
pub struct ProgressReader {
    encoded: Duration,
    speed: Option<f64>,
}

impl ProgressReader {
    /// Takes one line; returns the block's progress when the line ends a block.
    pub fn feed(&mut self, line: &str) -> Option<Progress> {
        let (key, value) = line.trim().split_once('=')?;
        let value = value.trim();
        match key {
            // `out_time_ms` is microseconds too (an old ffmpeg misnomer); either will do.
            "out_time_us" | "out_time_ms" => {
                if let Ok(micros) = value.parse::<u64>() {
                    self.encoded = Duration::from_micros(micros);
                }
            }
            "speed" => {
                self.speed = value
                    .trim_end_matches('x')
                    .parse()
                    .ok()
                    .filter(|speed: &f64| speed.is_finite());
            }
            "progress" => {
                return Some(Progress {
                    encoded: self.encoded,
                    speed: self.speed,
                    finished: value == "end",
                })
            }
            _ => {}
        }
        None
    }
}

/// Decides which progress values are worth a log line: the first, each time another `step` percent
/// is done, and the end.
#[derive(Debug)]
pub struct Milestones {
    step: u32,
    last: Option<u32>,
}

impl Milestones {
    /// Milestones every `step` percent (at least 1).
    pub fn every(step: u32) -> Self {
        Self {
            step: step.max(1),
            last: None,
        }
    }

    /// Whether `percent` passes a new milestone (and remembers it).
    pub fn passes(&mut self, percent: u32) -> bool {
        let milestone = percent / self.step * self.step;
        let due = self.last.is_none_or(|last| milestone > last);
        if due {
            self.last = Some(milestone);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK: &str = "frame=48\nfps=0.00\nbitrate=N/A\nout_time_us=N/A\n\
                         out_time_us=1600000\nout_time=00:00:01.600000\nspeed=3.19x\n\
                         progress=continue\n";

    fn feed_all(reader: &mut ProgressReader, text: &str) -> Vec<Progress> {
        text.lines().filter_map(|line| reader.feed(line)).collect()
    }

    #[test]
    fn a_block_yields_one_progress() {
        let mut reader = ProgressReader::default();
        let blocks = feed_all(&mut reader, BLOCK);
        assert_eq!(
            blocks,
            [Progress {
                encoded: Duration::from_millis(1600),
                speed: Some(3.19),
                finished: false
            }]
        );
        assert_eq!(blocks[0].percent_of(Duration::from_secs(2)), 80);
    }

    #[test]
    fn the_last_block_is_finished_and_complete() {
        let mut reader = ProgressReader::default();
        let blocks = feed_all(
            &mut reader,
            "out_time_ms=1990000\nspeed=N/A\nprogress=end\n",
        );
        assert!(blocks[0].finished);
        assert_eq!(blocks[0].speed, None);
        assert_eq!(blocks[0].percent_of(Duration::from_secs(2)), 100);
    }

    #[test]
    fn percent_is_clamped_and_safe_for_zero_lengths() {
        let overshoot = Progress {
            encoded: Duration::from_secs(3),
            speed: None,
            finished: false,
        };
        assert_eq!(overshoot.percent_of(Duration::from_secs(2)), 100);
        assert_eq!(overshoot.percent_of(Duration::ZERO), 0);
    }

    #[test]
    fn milestones_fire_once_per_step() {
        let mut milestones = Milestones::every(25);
        let fired: Vec<u32> = [0, 3, 24, 25, 26, 60, 61, 100, 100]
            .into_iter()
            .filter(|&percent| milestones.passes(percent))
            .collect();
        assert_eq!(fired, [0, 25, 60, 100]);
    }
}
