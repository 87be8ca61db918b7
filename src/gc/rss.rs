//! The process's resident set size, read inside a GC epilogue beside V8's heap figures.
//!
//! On Linux the memory-stats crate opens, reads and closes `/proc/self/statm` on every call
//! (about 15 µs here, as much again as the rest of the epilogue), so the file is opened once and
//! re-read in place with `pread` (about 2.5 µs, no allocation). Elsewhere the crate's calls
//! (`task_info`, `GetProcessMemoryInfo`) are cheap already.

/// Bytes resident now; `None` where the platform does not say.
#[cfg(target_os = "linux")]
pub fn resident() -> Option<u64> {
    use std::fs::File;
    use std::os::unix::fs::FileExt;
    use std::sync::OnceLock;

    static STATM: OnceLock<Option<(File, u64)>> = OnceLock::new();
    let (file, page) = STATM
        .get_or_init(|| {
            // SAFETY: sysconf has no preconditions.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            Some((
                File::open("/proc/self/statm").ok()?,
                u64::try_from(page).ok()?,
            ))
        })
        .as_ref()?;
    // "size resident shared text lib data dt", in pages: the second field.
    let mut buf = [0u8; 128];
    let n = file.read_at(&mut buf, 0).ok()?;
    let resident = buf[..n].split(|&b| b == b' ').nth(1)?;
    let pages: u64 = std::str::from_utf8(resident).ok()?.trim().parse().ok()?;
    Some(pages * page)
}

#[cfg(not(target_os = "linux"))]
pub fn resident() -> Option<u64> {
    memory_stats::memory_stats().map(|m| m.physical_mem as u64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn resident_is_what_the_kernel_reports_in_status() {
        // VmRSS in /proc/self/status (kB), read independently around the call.
        let vm_rss = || -> u64 {
            let status = std::fs::read_to_string("/proc/self/status").unwrap();
            let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
            line.split_whitespace()
                .nth(1)
                .unwrap()
                .parse::<u64>()
                .unwrap()
                * 1024
        };
        let before = vm_rss();
        let got = super::resident().unwrap();
        let after = vm_rss();
        let (lo, hi) = (before.min(after), before.max(after));
        // Pages may come and go between the reads; a few hundred kB of slack.
        assert!(
            got + (512 << 10) >= lo && got <= hi + (512 << 10),
            "{lo} ≤ {got} ≤ {hi}"
        );
    }
}
