//! Figures of this process from /proc: resident memory and open file descriptors.

/// Resident set size (`VmRSS` in /proc/self/status) in KiB.
///
/// # Panics
/// When /proc/self/status cannot be read or has no `VmRSS` line (not Linux).
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line in /proc/self/status")
}

/// How many file descriptors this process has open (entries of /proc/self/fd).
///
/// # Panics
/// When /proc/self/fd cannot be read (not Linux).
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_read() {
        // Other tests of this binary open and close files at the same time: only sanity checks.
        assert!(rss_kib() > 1000);
        assert!(open_fds() >= 3, "stdin, stdout and stderr at least");
    }
}
