//! The `process_*` families, read from /proc at each scrape as upstream's
//! process collector does: CPU time, memory, start time, descriptors and
//! network bytes. A source that cannot be read leaves out its families.

use super::{counter, single};
use super::{
    PROCESS_CPU_SECONDS_TOTAL, PROCESS_MAX_FDS, PROCESS_NETWORK_RECEIVE_BYTES_TOTAL,
    PROCESS_NETWORK_TRANSMIT_BYTES_TOTAL, PROCESS_OPEN_FDS, PROCESS_RESIDENT_MEMORY_BYTES,
    PROCESS_START_TIME_SECONDS, PROCESS_VIRTUAL_MEMORY_BYTES, PROCESS_VIRTUAL_MEMORY_MAX_BYTES,
};
use crate::model::{MetricFamily, Value};

/// Reads the `process_*` families; a source that cannot be read or parsed
/// leaves out its families rather than failing the scrape.
pub(super) fn process_families() -> Vec<MetricFamily> {
    let ticks = clock_ticks_per_second();
    let mut families = Vec::new();
    if let Some(stat) = read_proc("/proc/self/stat").and_then(|t| parse_proc_stat(&t)) {
        let cpu = (stat.utime_ticks + stat.stime_ticks) as f64 / ticks;
        families.push(single(PROCESS_CPU_SECONDS_TOTAL, counter(cpu)));
        families.push(single(
            PROCESS_VIRTUAL_MEMORY_BYTES,
            Value::Gauge(stat.vsize_bytes as f64),
        ));
        let rss = stat.rss_pages as f64 * page_size();
        families.push(single(PROCESS_RESIDENT_MEMORY_BYTES, Value::Gauge(rss)));
        // systemd's ProcSubset=pid hides /proc/stat: fall back to the clocks.
        let boot = read_proc("/proc/stat")
            .and_then(|t| parse_boot_time(&t))
            .map(|b| b as f64)
            .or_else(boot_time_from_clocks);
        if let Some(boot) = boot {
            let start = boot + stat.start_ticks as f64 / ticks;
            families.push(single(PROCESS_START_TIME_SECONDS, Value::Gauge(start)));
        }
    }
    if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
        let open = entries.count() as f64;
        families.push(single(PROCESS_OPEN_FDS, Value::Gauge(open)));
    }
    if let Some(limits) = read_proc("/proc/self/limits") {
        if let Some(max) = parse_soft_limit(&limits, "Max open files") {
            families.push(single(PROCESS_MAX_FDS, Value::Gauge(max)));
        }
        if let Some(max) = parse_soft_limit(&limits, "Max address space") {
            families.push(single(PROCESS_VIRTUAL_MEMORY_MAX_BYTES, Value::Gauge(max)));
        }
    }
    let netstat = read_proc("/proc/self/net/netstat");
    if let Some((received, sent)) = netstat.and_then(|t| parse_ip_ext_octets(&t)) {
        families.push(single(
            PROCESS_NETWORK_RECEIVE_BYTES_TOTAL,
            counter(received),
        ));
        families.push(single(PROCESS_NETWORK_TRANSMIT_BYTES_TOTAL, counter(sent)));
    }
    families
}

fn read_proc(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// `USER_HZ`, the unit of the times in /proc/self/stat.
fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0 // Linux's USER_HZ on every architecture.
    }
}

fn page_size() -> f64 {
    // SAFETY: sysconf only reads a system constant.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 {
        size as f64
    } else {
        4096.0
    }
}

/// The fields of /proc/self/stat that the metrics use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ProcStat {
    utime_ticks: u64,
    stime_ticks: u64,
    start_ticks: u64,
    vsize_bytes: u64,
    rss_pages: i64,
}

/// Parses /proc/self/stat. The command name (field 2) may hold spaces and
/// parentheses, so fields are counted from the last `)`.
fn parse_proc_stat(text: &str) -> Option<ProcStat> {
    let after_comm = &text[text.rfind(')')? + 1..];
    // Index 0 here is field 3 (state) of proc(5).
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).copied();
    Some(ProcStat {
        utime_ticks: field(14)?.parse().ok()?,
        stime_ticks: field(15)?.parse().ok()?,
        start_ticks: field(22)?.parse().ok()?,
        vsize_bytes: field(23)?.parse().ok()?,
        rss_pages: field(24)?.parse().ok()?,
    })
}

/// The `btime` line of /proc/stat: boot time in Unix seconds.
fn parse_boot_time(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// Boot time in Unix seconds as the wall clock minus the time since boot
/// (`CLOCK_BOOTTIME`, which the start time in /proc/self/stat counts from),
/// for when /proc/stat cannot be read.
fn boot_time_from_clocks() -> Option<f64> {
    let read = |clock| {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid out-pointer; both clocks exist on Linux.
        let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
        (rc == 0).then(|| ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9)
    };
    let since_boot = read(libc::CLOCK_BOOTTIME)?;
    let now = read(libc::CLOCK_REALTIME)?;
    Some(now - since_boot)
}

/// The soft value of the limit called `name` in /proc/self/limits;
/// `unlimited` reads as 2^64−1, as upstream reports it.
fn parse_soft_limit(text: &str, name: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    let soft = line[name.len()..].split_whitespace().next()?;
    if soft == "unlimited" {
        return Some(u64::MAX as f64);
    }
    soft.parse::<u64>().ok().map(|v| v as f64)
}

/// `InOctets` and `OutOctets` of the `IpExt:` lines of /proc/self/net/netstat
/// (a header line of names followed by a line of values).
fn parse_ip_ext_octets(text: &str) -> Option<(f64, f64)> {
    let mut ip_ext = text.lines().filter(|l| l.starts_with("IpExt:"));
    let names = ip_ext.next()?.split_whitespace();
    let values = ip_ext.next()?.split_whitespace();
    let mut received = None;
    let mut sent = None;
    for (name, value) in names.zip(values).skip(1) {
        match name {
            "InOctets" => received = value.parse::<f64>().ok(),
            "OutOctets" => sent = value.parse::<f64>().ok(),
            _ => {}
        }
    }
    Some((received?, sent?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::own_family;

    fn find<'a>(families: &'a [MetricFamily], name: &str) -> Option<&'a MetricFamily> {
        families.iter().find(|f| f.name == name)
    }

    const STAT: &str = "15598 (my (odd) cmd) R 15596 15596 3127 0 -1 4194304 97 0 0 0 \
        12 34 0 0 20 0 1 0 106853 3133440 349 18446744073709551615 94024950972416 \
        94024950992297 140734283427952 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";

    #[test]
    fn proc_stat_fields_are_counted_after_the_command_name() {
        assert_eq!(
            parse_proc_stat(STAT),
            Some(ProcStat {
                utime_ticks: 12,
                stime_ticks: 34,
                start_ticks: 106853,
                vsize_bytes: 3133440,
                rss_pages: 349,
            })
        );
        assert_eq!(parse_proc_stat("15598 (cat) R 1 2"), None);
        assert_eq!(parse_proc_stat(""), None);
    }

    const LIMITS: &str = "\
Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max open files            20000                1048576              files     
Max address space         unlimited            unlimited            bytes     
";

    #[test]
    fn soft_limits_are_read_and_unlimited_is_the_largest_u64() {
        assert_eq!(parse_soft_limit(LIMITS, "Max open files"), Some(20000.0));
        assert_eq!(
            parse_soft_limit(LIMITS, "Max address space"),
            Some(18446744073709551615.0)
        );
        assert_eq!(parse_soft_limit(LIMITS, "Max locked memory"), None);
    }

    #[test]
    fn boot_time_comes_from_btime() {
        let text = "cpu  1 2 3\nintr 5\nbtime 1795275746\nprocesses 9\n";
        assert_eq!(parse_boot_time(text), Some(1795275746));
        assert_eq!(parse_boot_time("cpu 1\n"), None);
    }

    #[test]
    fn boot_time_from_clocks_agrees_with_btime() {
        let Some(btime) = read_proc("/proc/stat").and_then(|t| parse_boot_time(&t)) else {
            return; // /proc/stat hidden: nothing to compare with
        };
        let clocks = boot_time_from_clocks().expect("clock_gettime works on Linux");
        // btime is truncated to whole seconds; NTP slews move both alike.
        assert!((clocks - btime as f64).abs() < 2.0, "{clocks} vs {btime}");
    }

    #[test]
    fn network_octets_come_from_ip_ext() {
        let text = "\
TcpExt: SyncookiesSent SyncookiesRecv
TcpExt: 0 0
IpExt: InNoRoutes InTruncatedPkts InMcastPkts OutMcastPkts InBcastPkts OutBcastPkts InOctets OutOctets InMcastOctets
IpExt: 0 0 0 0 0 0 37535960 1780188 0
";
        assert_eq!(parse_ip_ext_octets(text), Some((37535960.0, 1780188.0)));
        assert_eq!(parse_ip_ext_octets("IpExt: InOctets\n"), None);
    }

    #[test]
    fn process_families_are_read_from_proc() {
        if !std::path::Path::new("/proc/self/stat").exists() {
            return;
        }
        let families = process_families();
        let cpu = find(&families, PROCESS_CPU_SECONDS_TOTAL).expect("cpu seconds");
        assert!(matches!(&cpu.metrics[0].value, Value::Counter(c) if c.value >= 0.0));
        let fds = find(&families, PROCESS_OPEN_FDS).expect("open fds");
        assert!(matches!(fds.metrics[0].value, Value::Gauge(n) if n >= 3.0));
        let start = find(&families, PROCESS_START_TIME_SECONDS).expect("start time");
        assert!(matches!(start.metrics[0].value, Value::Gauge(t) if t > 1.0e9));
        for family in &families {
            let own = own_family(&family.name).expect("own family");
            assert_eq!(
                (family.kind, family.help.as_deref()),
                (own.kind, Some(own.help))
            );
        }
    }
}
