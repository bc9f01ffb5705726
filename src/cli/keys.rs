//! `gridlink keys`: issue, list and revoke API keys. A new key is printed once; only its
//! SHA-256 is stored.

use crate::cases::{Clock, Role, keys};
use crate::config::Config;
use crate::db::Db;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it (once).
    Create {
        /// dispatcher, unit, supervisor or admin.
        #[arg(long)]
        role: String,
        /// The handling unit a `unit` key acts for (its code in the units layers).
        #[arg(long)]
        unit: Option<String>,
        /// The node of the linkage network the key acts for: `district`, `town:CODE` (a
        /// sub-centre), `village:CODE` (a workstation), `unit:CODE`, or a command body
        /// (`urban`, `emergency`, `police_110`, `hotline_12345`). Without it: the district
        /// centre.
        #[arg(long)]
        node: Option<String>,
        /// Who holds it, shown in case histories.
        #[arg(long)]
        label: Option<String>,
    },
    /// List live keys (prefix, role, unit, label; never the secret).
    List,
    /// Revoke a key by its id.
    Revoke { id: i64 },
}

pub fn run(config: &Config, args: &Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let db = Db::connect(&config.database).await?;
        let code = match &args.command {
            KeysCommand::Create {
                role,
                unit,
                node,
                label,
            } => {
                let role = Role::parse(role)
                    .filter(|r| *r != Role::Anonymous)
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "--role must be dispatcher, unit, supervisor or admin, got {role:?}"
                        )
                    })?;
                if let Some(code) = unit {
                    check_unit(config, code)?;
                }
                let node = node
                    .as_deref()
                    .map(|text| resolve_node(config, text))
                    .transpose()?;
                let key = keys::create_at(
                    &db,
                    role,
                    unit.as_deref(),
                    node.as_ref(),
                    label.as_deref(),
                    Clock::system().now(),
                )
                .await?;
                eprintln!(
                    "created key {} ({}{}{}); store it now, it is not shown again:",
                    key.id,
                    role.as_str(),
                    unit.as_deref()
                        .map(|u| format!(" of {u}"))
                        .unwrap_or_default(),
                    node.as_ref()
                        .map(|n| format!(" at {}", n.as_string()))
                        .unwrap_or_default()
                );
                println!("{}", key.secret);
                ExitCode::SUCCESS
            }
            KeysCommand::List => {
                for key in keys::list(&db).await? {
                    println!(
                        "{}\t{}…\t{}\t{}\t{}\t{}",
                        key.id,
                        key.prefix,
                        key.role,
                        key.unit.unwrap_or_default(),
                        key.node.unwrap_or_else(|| "district".into()),
                        key.label.unwrap_or_default()
                    );
                }
                ExitCode::SUCCESS
            }
            KeysCommand::Revoke { id } => {
                if keys::revoke(&db, *id, Clock::system().now()).await? {
                    eprintln!("revoked key {id} (servers forget it within 30 s)");
                    ExitCode::SUCCESS
                } else {
                    eprintln!("no live key {id}");
                    ExitCode::from(1)
                }
            }
        };
        db.close().await;
        Ok(code)
    })
}

/// A unit key for a unit that does not exist would never see a case: refuse it.
fn check_unit(config: &Config, code: &str) -> anyhow::Result<()> {
    let catalog = crate::catalog::Catalog::load(&config.layers_dir, &config.tables_dir)?;
    for role in [
        crate::catalog::Role::DistrictUnit,
        crate::catalog::Role::TownUnit,
    ] {
        let Some(def) = catalog.with_role(role) else {
            continue;
        };
        let layer =
            crate::spatial::LayerStore::load_one_in(def, &super::source_context(config)?, None)?;
        if layer.find(code).is_some() {
            return Ok(());
        }
    }
    anyhow::bail!("no handling unit with code {code:?} in the units layers")
}

/// A node that does not exist would never see a case: it is checked against the layers of the
/// network (linkage centres, workstations, units) and the command-body code table.
fn resolve_node(config: &Config, text: &str) -> anyhow::Result<crate::cases::Node> {
    use crate::catalog::Role;
    let mut catalog = crate::catalog::Catalog::load(&config.layers_dir, &config.tables_dir)?;
    let wanted = [
        Role::LinkageCentre,
        Role::Workstation,
        Role::DistrictUnit,
        Role::TownUnit,
    ];
    let keep: Vec<bool> = catalog
        .layers
        .iter()
        .map(|l| l.role.is_some_and(|r| wanted.contains(&r)))
        .collect();
    let mut flags = keep.iter();
    catalog.layers.retain(|_| *flags.next().unwrap_or(&false));
    let mut flags = keep.iter();
    catalog.files.retain(|_| *flags.next().unwrap_or(&false));
    let store = super::load_store(config, catalog)?;
    let tables = crate::catalog::CodeTables::load(&config.tables_dir)?;
    let directory = crate::cases::network::NodeDirectory {
        store: &store,
        tables: &tables,
    };
    Ok(directory.resolve(text)?)
}
