//! The command line → [`Command`]: kingpin's syntax rewritten for
//! pico-args, every flag of the table read into a [`Config`], and the
//! one-line errors for whatever cannot be used.

use std::ffi::OsString;

use super::flags::{find_flag, FlagSpec, Kind, FLAGS};
use super::{help, Command, Config, ConfigError};

/// Parses the arguments after the program name.
pub(super) fn parse(args: Vec<OsString>) -> Result<Command, ConfigError> {
    let mut flags = FlagReader(pico_args::Arguments::from_vec(normalize(args)?));
    // kingpin's --help-long is --help; --help-man prints a man page.
    if flags.0.contains(["-h", "--help"]) || flags.0.contains("--help-long") {
        return Ok(Command::Help(help::help_text()));
    }
    if flags.0.contains("--help-man") {
        return Ok(Command::Help(help::man_text()));
    }
    if flags.0.contains("--version") {
        return Ok(Command::Version(help::version_text()));
    }
    let config = read_flags(&mut flags)?;
    reject_leftovers(flags.0.finish())?;
    Ok(Command::Run(Box::new(config)))
}

/// Takes every flag of the table out of `flags`, in table order, starting
/// from the defaults.
fn read_flags(flags: &mut FlagReader) -> Result<Config, ConfigError> {
    let mut config = Config::default();
    for spec in FLAGS {
        match spec.kind {
            Kind::Bool(field) => {
                // `normalize` has turned every boolean form into `true` or `false`.
                if let Some(value) = flags.one(spec.flag)? {
                    *field(&mut config) = value == "true";
                }
            }
            Kind::Value(set) => {
                if let Some(value) = flags.one(spec.flag)? {
                    set(&mut config, &value)
                        .map_err(|reason| invalid_value(spec.flag, &value, &reason))?;
                }
            }
            Kind::Repeatable(set) => {
                let values = flags.all(spec.flag)?;
                // Given values replace the default instead of adding to it.
                if !values.is_empty() {
                    set(&mut config, values)?;
                }
            }
        }
    }
    Ok(config)
}

/// Rewrites kingpin syntax into plain `--flag value` pairs for pico-args.
///
/// pico-args alone rejects `--x=` (an empty value, which upstream's own docs
/// use as `--persistence.file=`), strips quotes inside `--x="v"`, reorders
/// repeated flags given in mixed syntaxes and knows no `--no-x`. So every
/// known flag leaves here as exactly two tokens, booleans with an explicit
/// `true`/`false`; unknown flags and positional arguments pass through for
/// [`reject_leftovers`].
fn normalize(args: Vec<OsString>) -> Result<Vec<OsString>, ConfigError> {
    let mut out = Vec::with_capacity(args.len() * 2);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let arg = into_utf8(arg)?;
        if arg == "--" {
            // Kingpin ends flags here; anything after would be a positional.
            return match args.next() {
                Some(next) => Err(unexpected(&next.to_string_lossy())),
                None => Ok(out),
            };
        }
        let (name, inline) = split_inline_value(&arg);
        if let Some(spec) = find_flag(name) {
            let value = match spec.kind {
                Kind::Bool(_) => bool_value(spec, inline)?.to_string(),
                Kind::Value(_) | Kind::Repeatable(_) => flag_value(spec, inline, &mut args)?,
            };
            out.push(OsString::from(spec.flag));
            out.push(OsString::from(value));
        } else if let Some(spec) = negated_bool(name) {
            if let Some(value) = inline {
                return Err(unexpected(value));
            }
            out.push(OsString::from(spec.flag));
            out.push(OsString::from("false"));
        } else {
            out.push(OsString::from(arg));
        }
    }
    Ok(out)
}

fn into_utf8(arg: OsString) -> Result<String, ConfigError> {
    arg.into_string().map_err(|arg| {
        ConfigError::new(format!("argument {:?} is not valid UTF-8, try --help", arg))
    })
}

/// `--name=value` → (`--name`, Some(`value`)); anything else is left whole.
fn split_inline_value(arg: &str) -> (&str, Option<&str>) {
    if arg.starts_with("--") {
        if let Some((name, value)) = arg.split_once('=') {
            return (name, Some(value));
        }
    }
    (arg, None)
}

fn negated_bool(name: &str) -> Option<&'static FlagSpec> {
    let flag = format!("--{}", name.strip_prefix("--no-")?);
    find_flag(&flag).filter(|spec| matches!(spec.kind, Kind::Bool(_)))
}

fn bool_value(spec: &FlagSpec, inline: Option<&str>) -> Result<&'static str, ConfigError> {
    match inline {
        None | Some("true") => Ok("true"),
        Some("false") => Ok("false"),
        Some(other) => Err(invalid_value(spec.flag, other, "expected true or false")),
    }
}

/// The value of a flag that needs one: inline, or else the next argument.
fn flag_value(
    spec: &FlagSpec,
    inline: Option<&str>,
    rest: &mut impl Iterator<Item = OsString>,
) -> Result<String, ConfigError> {
    let value = match inline {
        Some(value) => value.to_string(),
        None => match rest.next() {
            Some(next) => into_utf8(next)?,
            None => return Err(missing_value(spec.flag)),
        },
    };
    // A value starting with `--` would be mistaken for a flag by pico-args;
    // kingpin also refuses a separate value that looks like a flag.
    let looks_like_flag = if inline.is_some() {
        value.starts_with("--")
    } else {
        value.starts_with('-') && value.len() > 1
    };
    if looks_like_flag {
        return Err(missing_value(spec.flag));
    }
    Ok(value)
}

/// Whatever pico-args did not consume is an unknown flag or a positional.
fn reject_leftovers(leftovers: Vec<OsString>) -> Result<(), ConfigError> {
    let Some(first) = leftovers.first() else {
        return Ok(());
    };
    let first = first.to_string_lossy();
    let (name, _) = split_inline_value(&first);
    let message = if name.starts_with("--") {
        format!("unknown long flag '{}', try --help", name)
    } else if name.starts_with('-') && name.len() > 1 {
        format!("unknown short flag '{}', try --help", name)
    } else {
        return Err(unexpected(name));
    };
    Err(ConfigError::new(message))
}

/// pico-args over [`normalize`]d arguments, with kingpin's rule that a
/// non-repeatable flag may appear only once.
struct FlagReader(pico_args::Arguments);

impl FlagReader {
    /// The single value of `flag`, if given.
    fn one(&mut self, flag: &'static str) -> Result<Option<String>, ConfigError> {
        let first = self.next_value(flag)?;
        if first.is_some() && self.next_value(flag)?.is_some() {
            return Err(ConfigError::new(format!(
                "flag '{}' cannot be repeated, try --help",
                flag
            )));
        }
        Ok(first)
    }

    /// Every value of a repeatable `flag`, in command-line order.
    fn all(&mut self, flag: &'static str) -> Result<Vec<String>, ConfigError> {
        let mut values = Vec::new();
        while let Some(value) = self.next_value(flag)? {
            values.push(value);
        }
        Ok(values)
    }

    fn next_value(&mut self, flag: &'static str) -> Result<Option<String>, ConfigError> {
        // `normalize` leaves only UTF-8 and complete pairs, so this cannot
        // fail in practice; map it anyway rather than trust that.
        self.0
            .opt_value_from_str::<_, String>(flag)
            .map_err(|err| ConfigError::new(format!("flag '{}': {}, try --help", flag, err)))
    }
}

pub(super) fn invalid_value(flag: &str, value: &str, reason: &str) -> ConfigError {
    ConfigError::new(format!(
        "invalid value {:?} for flag '{}': {}, try --help",
        value, flag, reason
    ))
}

fn missing_value(flag: &str) -> ConfigError {
    ConfigError::new(format!("expected argument for flag '{}', try --help", flag))
}

fn unexpected(arg: &str) -> ConfigError {
    ConfigError::new(format!("unexpected argument {:?}, try --help", arg))
}
