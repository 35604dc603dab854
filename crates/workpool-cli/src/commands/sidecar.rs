//! `workpool sidecar`: polls an SQS queue and hands each message to a local app over HTTP
//! (sqsd-compatible) or to a command, with the Auto Scaling integration on EC2. The options are built
//! from the library's key table, so `--help`, the TOML file and the `WORKPOOL_…` variables never
//! disagree.

use std::path::PathBuf;

use clap::{Arg, ArgMatches, Command, FromArgMatches};
use workpool_sidecar::{install_prometheus_recorder, ConfigSources, Sidecar, CONFIG_KEYS};

const CONFIG_FILE: &str = "config";

const ABOUT: &str =
    "Settings come from a TOML file (--config; flat `key = value` pairs named as the \
flags in snake_case), then environment variables (WORKPOOL_ + the key in upper case, e.g. \
WORKPOOL_QUEUE_URL), then flags; later ones win. Every bad key is reported at once.";

/// Options of `workpool sidecar`: a config file and one flag per configuration key.
#[derive(Debug, Clone, Default)]
pub struct Args {
    config: Option<PathBuf>,
    flags: Vec<(String, String)>,
}

impl FromArgMatches for Args {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut args = Self::default();
        args.update_from_arg_matches(matches)?;
        Ok(args)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        if let Some(path) = matches.get_one::<PathBuf>(CONFIG_FILE) {
            self.config = Some(path.clone());
        }
        for key in CONFIG_KEYS {
            if let Some(value) = matches.get_one::<String>(key.name) {
                self.flags.push((key.name.to_owned(), value.clone()));
            }
        }
        Ok(())
    }
}

impl clap::Args for Args {
    fn augment_args(command: Command) -> Command {
        let mut command = command.after_help(ABOUT).arg(
            Arg::new(CONFIG_FILE)
                .long(CONFIG_FILE)
                .env("WORKPOOL_CONFIG")
                .value_name("PATH")
                .value_parser(clap::value_parser!(PathBuf))
                .help("TOML file with the settings below [default: none]"),
        );
        for key in CONFIG_KEYS {
            command = command.arg(
                Arg::new(key.name)
                    .long(key.flag.trim_start_matches("--"))
                    .value_name("VALUE")
                    .help(format!(
                        "{} [default: {}]",
                        capitalized(key.help),
                        key.default
                    )),
            );
        }
        command
    }

    fn augment_args_for_update(command: Command) -> Command {
        Self::augment_args(command)
    }
}

fn capitalized(text: &str) -> String {
    let mut characters = text.chars();
    match characters.next() {
        Some(first) => first.to_uppercase().chain(characters).collect(),
        None => String::new(),
    }
}

/// Runs `workpool sidecar` until SIGTERM/SIGINT, the instance's termination, or a Spot notice.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let mut sources = ConfigSources::new()
        .file(args.config)
        .environment(std::env::vars());
    for (key, value) in args.flags {
        sources = sources.flag(key, value);
    }
    let config = sources.load()?;
    let metrics = install_prometheus_recorder()?;
    let sidecar = Sidecar::new(config).metrics(Some(metrics)).bind().await?;
    let report = sidecar.run(workpool::shutdown_signal()).await?;
    tracing::info!(ending = ?report.ending, summary = ?report.summary, "sidecar stopped");
    Ok(())
}
