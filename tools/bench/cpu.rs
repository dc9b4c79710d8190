//! CPU time for the benchmarks (included by path).

/// CPU time of the calling thread so far, in nanoseconds, from the
/// scheduler's own account (exact, unlike the 10 ms ticks of /proc/…/stat).
pub fn thread_cpu_ns() -> Result<u64, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat")?;
    let ns = text.split_whitespace().next().and_then(|f| f.parse().ok());
    ns.ok_or_else(|| "unreadable /proc/thread-self/schedstat".into())
}
