//! `gridlink workers`: the field workers the layers define (inspectors of each beat, team
//! vehicles) and which key may post positions for which of them.

use crate::catalog::Catalog;
use crate::config::Config;
use crate::db::Db;
use crate::field::{FieldConfig, WorkerType, Workers, store};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: WorkersCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum WorkersCommand {
    /// List the workers (id, type, name, beat or team) as tab-separated lines.
    List {
        /// Only the inspectors of this beat.
        #[arg(long)]
        beat: Option<String>,
        /// inspector or vehicle.
        #[arg(long = "type")]
        kind: Option<String>,
    },
    /// Let a key (its id, from `gridlink keys list`) post positions for these workers: a
    /// phone's key for its inspector, an AVL gateway's key for its vehicles.
    Bind {
        #[arg(long)]
        key: i64,
        #[arg(required = true)]
        workers: Vec<String>,
    },
}

fn registry(config: &Config) -> anyhow::Result<Workers> {
    let catalog = Catalog::load(&config.layers_dir, &config.tables_dir)?;
    let store = super::load_store(config, catalog)?;
    let field = FieldConfig::load(&config.tables_dir.join(crate::field::config::FILE_NAME))?;
    Ok(Workers::build(&store, field.inspectors_per_beat))
}

pub fn run(config: &Config, args: &Args) -> anyhow::Result<ExitCode> {
    let workers = registry(config)?;
    match &args.command {
        WorkersCommand::List { beat, kind } => {
            let kind = match kind.as_deref() {
                None => None,
                Some(k) => Some(WorkerType::parse(k).ok_or_else(|| {
                    anyhow::anyhow!("--type must be inspector or vehicle, got {k:?}")
                })?),
            };
            for w in &workers.list {
                if kind.is_some_and(|k| k != w.kind)
                    || beat
                        .as_deref()
                        .is_some_and(|b| w.beat.as_deref() != Some(b))
                {
                    continue;
                }
                println!(
                    "{}\t{}\t{}\t{}",
                    w.id,
                    w.kind.as_str(),
                    w.name,
                    w.beat.as_deref().or(w.team.as_deref()).unwrap_or_default()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        WorkersCommand::Bind { key, workers: ids } => {
            if let Some(unknown) = ids.iter().find(|id| workers.get(id).is_none()) {
                anyhow::bail!("no worker {unknown:?} (see `gridlink workers list`)");
            }
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async {
                let db = Db::connect(&config.database).await?;
                if !crate::cases::keys::list(&db)
                    .await?
                    .iter()
                    .any(|k| k.id == *key)
                {
                    anyhow::bail!("no live key {key} (see `gridlink keys list`)");
                }
                for id in ids {
                    store::bind(&db, *key, id).await?;
                }
                eprintln!("key {key} may post positions for {}", ids.join(", "));
                db.close().await;
                Ok(ExitCode::SUCCESS)
            })
        }
    }
}
