//! Settings from `gridlink.toml`, overridden by environment variables and flags.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// What a config file may set; every key is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub layers_dir: Option<PathBuf>,
    pub tables_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub expose_staff_layers: Option<bool>,
    pub styles_dir: Option<PathBuf>,
    pub web_dir: Option<PathBuf>,
    /// Tile cache size in MiB.
    pub tile_cache_mb: Option<u64>,
    /// Case database URL (`sqlite:PATH` or `postgres://…`).
    pub database: Option<String>,
    /// The database of PostGIS-backed layers.
    pub postgis: Option<PostgisConfig>,
    /// Where uploaded photos are stored [default: DATA_DIR/photos].
    pub photos_dir: Option<PathBuf>,
    /// What the public sees of cases.
    pub public: Option<PublicSection>,
    /// The linkage network: the district centre's own area, appraisal settings.
    pub network: Option<NetworkSection>,
}

/// `[network]`: where cases go and how the network is appraised.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSection {
    /// Village codes of the district centre's own area (the central urban area): their cases
    /// go to the district centre's queue, not to the town sub-centre's.
    #[serde(default)]
    pub central_villages: Vec<String>,
    /// Or a polygon layer (by id) outlining that area.
    pub central_layer: Option<String>,
    /// Hours within which filing counts as on time (sub-centre appraisal) [default: 2].
    pub file_limit_h: Option<i64>,
    /// Hours from filing within which dispatch counts as on time [default: 2].
    pub dispatch_limit_h: Option<i64>,
    /// Cases received in the period from which a unit is in workload category 1, 2, …
    /// (descending) [default: [50, 10]].
    pub category_thresholds: Option<Vec<u64>>,
}

/// `[postgis]`: where layers with `postgis = "schema.table"` sources live.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgisConfig {
    /// `postgres://user@host/db`; `GRIDLINK_LAYERS_DATABASE` overrides it.
    pub url: Option<String>,
}

/// `[public]`: what anonymous clients (Open311, the public page) see of cases.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicSection {
    /// `"approved"` (a description is public once a dispatcher approved it) or `"never"`.
    pub descriptions: Option<crate::cases::public_view::Descriptions>,
}

impl FileConfig {
    /// Reads `path`; a missing file is only an error when the user named it explicitly.
    pub fn read(path: &Path, explicit: bool) -> Result<FileConfig, crate::catalog::CatalogError> {
        if !path.exists() && !explicit {
            return Ok(FileConfig::default());
        }
        let text = crate::catalog::read_text(path)?;
        crate::catalog::parse_toml(path, &text)
    }
}

/// The settled configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where layer source files are (`[source] path` is relative to it).
    pub data_dir: PathBuf,
    /// The layer catalogue, one TOML file per layer.
    pub layers_dir: PathBuf,
    /// Code tables, layer groups and the demo recipe.
    pub tables_dir: PathBuf,
    pub listen: SocketAddr,
    /// Show staff-only layers (hazard sources, cameras, …) to every request. Off by default;
    /// for closed networks until API keys are issued.
    pub expose_staff_layers: bool,
    /// MapLibre styles and glyph PBFs.
    pub styles_dir: PathBuf,
    /// The web map page and its npm packages.
    pub web_dir: PathBuf,
    pub tile_cache_mb: u64,
    /// Where cases, events and API keys live.
    pub database: String,
    /// Where PostGIS-backed layers live (`[postgis] url`, `GRIDLINK_LAYERS_DATABASE`).
    pub layers_database: Option<String>,
    /// Where uploaded photos are stored (a local directory through `object_store`).
    pub photos_dir: PathBuf,
    /// What the public sees of cases.
    pub public: crate::cases::PublicPolicy,
    /// Where cases go in the linkage network, and how it is appraised.
    pub network: crate::cases::NetworkPolicy,
}

pub const DEFAULT_DATA_DIR: &str = "data/demo";
pub const DEFAULT_LAYERS_DIR: &str = "layers";
pub const DEFAULT_TABLES_DIR: &str = "data";
/// Uploaded photos, inside the data dir.
pub const DEFAULT_PHOTOS_DIR: &str = "photos";
/// The embedded case database, inside the data dir.
pub const DEFAULT_DATABASE_FILE: &str = "gridlink.sqlite";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

impl Config {
    /// Flag or environment value first, then the file, then the default.
    pub fn resolve(
        file: FileConfig,
        data_dir: Option<PathBuf>,
        layers_dir: Option<PathBuf>,
        tables_dir: Option<PathBuf>,
        listen: Option<SocketAddr>,
    ) -> Config {
        let data_dir: PathBuf = data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| DEFAULT_DATA_DIR.into());
        let network = {
            let standard = crate::cases::NetworkPolicy::standard();
            let section = file.network.unwrap_or_default();
            crate::cases::NetworkPolicy {
                central_villages: section.central_villages.into_iter().collect(),
                central_layer: section.central_layer,
                file_limit_h: section.file_limit_h.unwrap_or(standard.file_limit_h),
                dispatch_limit_h: section
                    .dispatch_limit_h
                    .unwrap_or(standard.dispatch_limit_h),
                category_thresholds: section
                    .category_thresholds
                    .unwrap_or(standard.category_thresholds),
            }
        };
        Config {
            network,
            layers_database: file.postgis.and_then(|p| p.url),
            photos_dir: file
                .photos_dir
                .unwrap_or_else(|| data_dir.join(DEFAULT_PHOTOS_DIR)),
            public: crate::cases::PublicPolicy {
                descriptions: file.public.and_then(|p| p.descriptions).unwrap_or_default(),
            },
            database: file.database.unwrap_or_else(|| {
                format!("sqlite:{}", data_dir.join(DEFAULT_DATABASE_FILE).display())
            }),
            expose_staff_layers: file.expose_staff_layers.unwrap_or(false),
            styles_dir: file.styles_dir.unwrap_or_else(|| "styles".into()),
            web_dir: file.web_dir.unwrap_or_else(|| "web".into()),
            tile_cache_mb: file.tile_cache_mb.unwrap_or(256),
            data_dir,
            layers_dir: layers_dir
                .or(file.layers_dir)
                .unwrap_or_else(|| DEFAULT_LAYERS_DIR.into()),
            tables_dir: tables_dir
                .or(file.tables_dir)
                .unwrap_or_else(|| DEFAULT_TABLES_DIR.into()),
            listen: listen.or(file.listen).unwrap_or_else(|| {
                DEFAULT_LISTEN
                    .parse()
                    .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080)))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_the_file_and_the_file_beats_defaults() {
        let file = FileConfig {
            data_dir: Some("from-file".into()),
            layers_dir: Some("layers-from-file".into()),
            tables_dir: None,
            listen: Some("0.0.0.0:9000".parse().unwrap()),
            expose_staff_layers: None,
            styles_dir: None,
            web_dir: None,
            tile_cache_mb: None,
            database: None,
            postgis: None,
            photos_dir: None,
            public: None,
            network: None,
        };
        let config = Config::resolve(file, Some("from-flag".into()), None, None, None);
        assert_eq!(config.data_dir, PathBuf::from("from-flag"));
        assert_eq!(config.layers_dir, PathBuf::from("layers-from-file"));
        assert_eq!(config.tables_dir, PathBuf::from(DEFAULT_TABLES_DIR));
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.photos_dir, PathBuf::from("from-flag/photos"));
    }

    #[test]
    fn the_public_section_says_whether_descriptions_are_ever_public() {
        let file: FileConfig = toml::from_str("[public]\ndescriptions = \"never\"\n").unwrap();
        let config = Config::resolve(file, None, None, None, None);
        assert_eq!(
            config.public.descriptions,
            crate::cases::public_view::Descriptions::Never
        );
        let config = Config::resolve(FileConfig::default(), None, None, None, None);
        assert_eq!(
            config.public.descriptions,
            crate::cases::public_view::Descriptions::Approved
        );
        assert!(toml::from_str::<FileConfig>("[public]\ndescriptions = \"sometimes\"\n").is_err());
    }

    #[test]
    fn a_missing_default_config_file_is_fine_but_a_named_one_is_not() {
        let missing = Path::new("/nonexistent/gridlink.toml");
        assert!(FileConfig::read(missing, false).is_ok());
        let err = FileConfig::read(missing, true).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/gridlink.toml"), "{err}");
    }

    #[test]
    fn an_unknown_key_in_the_config_file_is_named() {
        let dir = std::env::temp_dir().join(format!("gridlink-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("gridlink.toml");
        std::fs::write(&path, "data_dri = \"x\"\n").unwrap();
        let err = FileConfig::read(&path, true).unwrap_err().to_string();
        assert!(err.contains("data_dri"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
