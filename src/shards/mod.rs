//! `pushgate shards`: the admin calls a sharded deployment must make on
//! every shard (README, "Scaling out"): `ls`, `reconcile`, bulk `delete`
//! and `wipe`, fanned out to each shard's own API.
//!
//! Owns the command line, the plan (what would change where) and its
//! output. Every command reads every shard before it changes anything, so a
//! bad URL or an unreachable shard stops it with nothing changed; changes
//! are a dry run unless `--apply` is given.

mod json;
mod shard;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Duration;

use crate::client::BaseUrl;
use crate::go;
use crate::matcher::Selector;
use crate::model::GroupingKey;

pub use shard::{delete_path, GroupCopy, Shard, ShardError};

/// Time allowed for each request unless `--timeout` says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

const USAGE: &str = "\
usage: pushgate shards [flags] <command> [args]

Admin calls for pushgates sharded behind a load balancer (README, \"Scaling
out\"). Every shard is read before anything changes; an unreachable shard
or a bad URL stops the command with nothing changed. Changes are only
printed (dry run) unless --apply is given.

Commands:
  ls                   every group, the shard holding it and its last push
                       time; groups held by more than one shard are marked
  reconcile            for every group held by more than one shard, keep the
                       copy with the newest push_time_seconds and delete the
                       others on their shards
  delete <selector>... delete the groups matching any selector on every
                       shard, e.g. '{job=\"batch\",env=\"dev\"}'
                       (shards need --web.enable-admin-api)
  wipe                 delete every group on every shard
                       (shards need --web.enable-admin-api)

Flags:
  --shard=URL          a shard: http://[user:password@]host:port[/route-prefix];
                       repeat for each shard
  --file-sd=FILE       add the targets of a Prometheus file_sd JSON file as
                       shards (http://<target>)
  --apply              make the changes (default: dry run)
  --timeout=DURATION   time allowed for each request (default 30s)
  -h, --help           this text

Exit status: 0 done (or nothing to do), 1 a shard failed or was
unreachable, 2 bad command line.
";

/// A parsed command line.
#[derive(Debug)]
struct Args {
    shards: Vec<BaseUrl>,
    apply: bool,
    timeout: Duration,
    command: Cmd,
}

#[derive(Debug, PartialEq)]
enum Cmd {
    Ls,
    Reconcile,
    Delete(Vec<String>),
    Wipe,
    Help,
}

/// Runs the subcommand with the arguments after `shards`; returns the exit code.
pub fn run(args: &[String]) -> u8 {
    let args = match parse_args(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("pushgate shards: {}\n(see pushgate shards --help)", e);
            return 2;
        }
    };
    if args.command == Cmd::Help {
        print!("{}", USAGE);
        return 0;
    }
    let shards: Vec<Shard> = args
        .shards
        .iter()
        .map(|url| Shard {
            url: url.clone(),
            timeout: args.timeout,
        })
        .collect();
    let mut out = String::new();
    let result = execute(&args.command, &shards, args.apply, &mut out);
    let _ = std::io::stdout().write_all(out.as_bytes());
    let _ = std::io::stdout().flush();
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprint!("{}", e);
            1
        }
    }
}

fn parse_args(raw: &[String]) -> Result<Args, String> {
    let mut shards = Vec::new();
    let mut apply = false;
    let mut timeout = DEFAULT_TIMEOUT;
    let mut positional = Vec::new();
    let mut it = raw.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it
                    .next()
                    .cloned()
                    .ok_or_else(|| format!("flag {} needs a value", name)),
            }
        };
        match flag {
            "-h" | "--help" | "help" if positional.is_empty() => {
                return Ok(Args {
                    shards,
                    apply,
                    timeout,
                    command: Cmd::Help,
                })
            }
            "--shard" => shards.push(BaseUrl::parse(&value("--shard")?)?),
            "--file-sd" => {
                let file = value("--file-sd")?;
                shards.extend(file_sd_shards(&file)?);
            }
            "--apply" if inline.is_none() => apply = true,
            "--timeout" => {
                let text = value("--timeout")?;
                timeout = crate::go::parse_duration(&text)
                    .ok()
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| format!("bad --timeout {:?}: a duration such as 10s", text))?;
            }
            f if f.starts_with('-') => return Err(format!("unknown flag {:?}", arg)),
            _ => positional.push(arg.clone()),
        }
    }
    let command = match positional.split_first() {
        None => return Err("no command given (ls, reconcile, delete or wipe)".into()),
        Some((c, rest)) => match (c.as_str(), rest) {
            ("ls", []) => Cmd::Ls,
            ("reconcile", []) => Cmd::Reconcile,
            ("wipe", []) => Cmd::Wipe,
            ("delete", []) => return Err("delete needs at least one selector".into()),
            ("delete", selectors) => {
                for s in selectors {
                    Selector::parse(s).map_err(|e| e.to_string())?;
                }
                Cmd::Delete(selectors.to_vec())
            }
            ("ls" | "reconcile" | "wipe", extra) => {
                return Err(format!("{} takes no arguments, got {:?}", c, extra))
            }
            (other, _) => return Err(format!("unknown command {:?}", other)),
        },
    };
    if shards.is_empty() {
        return Err("no shards given: use --shard=URL (repeated) or --file-sd=FILE".into());
    }
    for (i, s) in shards.iter().enumerate() {
        if shards[..i].contains(s) {
            return Err(format!("shard {} is given twice", s));
        }
    }
    Ok(Args {
        shards,
        apply,
        timeout,
        command,
    })
}

/// The targets of a Prometheus file_sd file (`[{"targets":["h:p",…]},…]`)
/// as shard URLs. A `__metrics_path__` label ending in `/metrics` gives the
/// route prefix; `__scheme__` other than http is refused.
fn file_sd_shards(file: &str) -> Result<Vec<BaseUrl>, String> {
    let text = std::fs::read(file).map_err(|e| format!("cannot read {}: {}", file, e))?;
    let doc = json::parse(&text).map_err(|e| format!("{}: {}", file, e))?;
    let groups = doc
        .as_array()
        .ok_or_else(|| format!("{}: not a file_sd list of target groups", file))?;
    let mut urls = Vec::new();
    for g in groups {
        let label = |name: &str| {
            g.get("labels")
                .and_then(|l| l.get(name))
                .and_then(json::Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        if !matches!(label("__scheme__").as_str(), "" | "http") {
            return Err(format!("{}: only http targets are supported", file));
        }
        let metrics_path = label("__metrics_path__");
        let prefix = metrics_path
            .strip_suffix("/metrics")
            .unwrap_or("")
            .to_string();
        let targets = g
            .get("targets")
            .and_then(json::Value::as_array)
            .ok_or_else(|| format!("{}: a target group without \"targets\"", file))?;
        for t in targets {
            let t = t
                .as_str()
                .ok_or_else(|| format!("{}: a target that is not a string", file))?;
            urls.push(BaseUrl::parse(&format!("http://{}{}", t, prefix))?);
        }
    }
    Ok(urls)
}

/// Every shard's groups, read in parallel; fails (listing every failing
/// shard) unless all answered. Refuses two URLs that reach one process.
fn read_all(shards: &[Shard], need_admin: bool) -> Result<Vec<Vec<GroupCopy>>, String> {
    let answers: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = shards
            .iter()
            .map(|s| scope.spawn(move || s.status().and_then(|st| Ok((st, s.groups()?)))))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(ShardError::Answer("reader panicked".into())))
            })
            .collect()
    });
    let mut errors = String::new();
    let mut out = Vec::new();
    let mut seen: Vec<(String, &BaseUrl)> = Vec::new();
    for (shard, answer) in shards.iter().zip(answers) {
        match answer {
            Ok((status, groups)) => {
                if need_admin && !status.admin_api {
                    let _ = writeln!(
                        errors,
                        "shard {}: the admin API is off (start it with --web.enable-admin-api)",
                        shard.url
                    );
                }
                if let Some((_, other)) = seen.iter().find(|(t, _)| *t == status.start_time) {
                    let _ = writeln!(
                        errors,
                        "shard {} is the same process as shard {} (same start time {})",
                        shard.url, other, status.start_time
                    );
                }
                seen.push((status.start_time, &shard.url));
                out.push(groups);
            }
            Err(e) => {
                let _ = writeln!(errors, "shard {}: {}", shard.url, e);
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        errors.push_str("nothing was changed\n");
        Err(errors)
    }
}

/// Where each group is: key → (shard index, copy), sorted by key.
type Placement = BTreeMap<Vec<u8>, Vec<(usize, GroupCopy)>>;

fn placement(per_shard: Vec<Vec<GroupCopy>>) -> Placement {
    let mut map: Placement = BTreeMap::new();
    for (i, groups) in per_shard.into_iter().enumerate() {
        for g in groups {
            map.entry(g.key.sort_key()).or_default().push((i, g));
        }
    }
    map
}

fn execute(cmd: &Cmd, shards: &[Shard], apply: bool, out: &mut String) -> Result<(), String> {
    let need_admin = apply && matches!(cmd, Cmd::Delete(_) | Cmd::Wipe);
    let per_shard = read_all(shards, need_admin)?;
    match cmd {
        Cmd::Help => Ok(()),
        Cmd::Ls => {
            ls(shards, placement(per_shard), out);
            Ok(())
        }
        Cmd::Reconcile => reconcile(shards, placement(per_shard), apply, out),
        Cmd::Delete(selectors) => delete(shards, &per_shard, selectors, apply, out),
        Cmd::Wipe => wipe(shards, &per_shard, apply, out),
    }
}

fn when(seconds: f64) -> String {
    if seconds <= 0.0 {
        return "never".to_string();
    }
    go::rfc3339_millis((seconds * 1e9) as i64)
}

fn ls(shards: &[Shard], placed: Placement, out: &mut String) {
    let width = shards
        .iter()
        .map(|s| s.url.to_string().len())
        .max()
        .unwrap_or(5)
        .max(5);
    let _ = writeln!(out, "{:<width$}  {:<24}  GROUP", "SHARD", "LAST PUSH");
    let mut copies = 0;
    let mut spread = 0;
    for holders in placed.values() {
        copies += holders.len();
        if holders.len() > 1 {
            spread += 1;
        }
        for (i, g) in holders {
            let _ = write!(
                out,
                "{:<width$}  {:<24}  {}",
                shards[*i].url.to_string(),
                when(g.push_time),
                g.key
            );
            if holders.len() > 1 {
                let _ = write!(out, "  [on {} shards]", holders.len());
            }
            out.push('\n');
        }
    }
    let _ = writeln!(
        out,
        "{} groups, {} copies on {} shards; {} groups on more than one shard{}",
        placed.len(),
        copies,
        shards.len(),
        spread,
        if spread > 0 {
            " (see `pushgate shards reconcile`)"
        } else {
            ""
        }
    );
}

/// For each group on several shards: the copy to keep (newest push, then
/// newest failure, then the first shard listed) and the copies to delete.
fn plan_reconcile(placed: &Placement) -> Vec<(usize, Vec<usize>, &GroupingKey)> {
    let mut plan = Vec::new();
    for holders in placed.values().filter(|h| h.len() > 1) {
        let mut keep = 0;
        for (j, (_, g)) in holders.iter().enumerate() {
            let best = &holders[keep].1;
            if (g.push_time, g.failure_time) > (best.push_time, best.failure_time) {
                keep = j;
            }
        }
        let others = (0..holders.len()).filter(|&j| j != keep).collect();
        plan.push((keep, others, &holders[keep].1.key));
    }
    plan
}

fn reconcile(
    shards: &[Shard],
    placed: Placement,
    apply: bool,
    out: &mut String,
) -> Result<(), String> {
    let plan = plan_reconcile(&placed);
    let mut errors = String::new();
    let mut deleted = 0;
    let mut stale = 0;
    for (keep, others, key) in &plan {
        let holders = &placed[&key.sort_key()];
        let (ki, kept) = &holders[*keep];
        let _ = writeln!(
            out,
            "{}: keep {} (pushed {})",
            key,
            shards[*ki].url,
            when(kept.push_time)
        );
        for &j in others {
            stale += 1;
            let (si, copy) = &holders[j];
            let verb = if apply { "delete" } else { "would delete" };
            let _ = write!(
                out,
                "  {} on {} (pushed {})",
                verb,
                shards[*si].url,
                when(copy.push_time)
            );
            if apply {
                match shards[*si].delete_group(&copy.key) {
                    Ok(()) => {
                        deleted += 1;
                        out.push_str(": deleted");
                    }
                    Err(e) => {
                        out.push_str(": FAILED");
                        let _ =
                            writeln!(errors, "shard {}: deleting {}: {}", shards[*si].url, key, e);
                    }
                }
            }
            out.push('\n');
        }
    }
    if plan.is_empty() {
        let _ = writeln!(
            out,
            "no group is held by more than one shard ({} groups)",
            placed.len()
        );
    } else if apply {
        let _ = writeln!(
            out,
            "{} groups were on more than one shard; {} of {} stale copies deleted",
            plan.len(),
            deleted,
            stale
        );
    } else {
        let _ = writeln!(
            out,
            "dry run: {} groups are on more than one shard; {} stale copies would be deleted (run with --apply)",
            plan.len(),
            stale
        );
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn delete(
    shards: &[Shard],
    per_shard: &[Vec<GroupCopy>],
    selectors: &[String],
    apply: bool,
    out: &mut String,
) -> Result<(), String> {
    // Checked in parse_args; parsed again to match locally for the dry run.
    let parsed: Vec<Selector> = selectors
        .iter()
        .filter_map(|s| Selector::parse(s).ok())
        .collect();
    let mut errors = String::new();
    let mut total = 0;
    for (shard, groups) in shards.iter().zip(per_shard) {
        let matching: Vec<&GroupCopy> = groups
            .iter()
            .filter(|g| parsed.iter().any(|s| s.matches(&g.key)))
            .collect();
        if !apply {
            for g in &matching {
                let _ = writeln!(out, "{}: would delete {}", shard.url, g.key);
            }
            total += matching.len() as u64;
            continue;
        }
        match shard.delete_matching(selectors) {
            Ok(n) => {
                let _ = writeln!(out, "{}: deleted {} groups", shard.url, n);
                total += n;
            }
            Err(e) => {
                let _ = writeln!(out, "{}: FAILED", shard.url);
                let _ = writeln!(errors, "shard {}: {}", shard.url, e);
            }
        }
    }
    if apply {
        let _ = writeln!(out, "{} groups deleted on {} shards", total, shards.len());
    } else {
        let _ = writeln!(
            out,
            "dry run: {} groups on {} shards would be deleted (run with --apply)",
            total,
            shards.len()
        );
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn wipe(
    shards: &[Shard],
    per_shard: &[Vec<GroupCopy>],
    apply: bool,
    out: &mut String,
) -> Result<(), String> {
    let mut errors = String::new();
    let mut total = 0;
    for (shard, groups) in shards.iter().zip(per_shard) {
        total += groups.len();
        if !apply {
            let _ = writeln!(out, "{}: would wipe {} groups", shard.url, groups.len());
            continue;
        }
        match shard.wipe() {
            Ok(()) => {
                let _ = writeln!(out, "{}: wiped ({} groups)", shard.url, groups.len());
            }
            Err(e) => {
                let _ = writeln!(out, "{}: FAILED", shard.url);
                let _ = writeln!(errors, "shard {}: {}", shard.url, e);
            }
        }
    }
    if !apply {
        let _ = writeln!(
            out,
            "dry run: {} groups on {} shards would be wiped (run with --apply)",
            total,
            shards.len()
        );
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests;
