//! The data directory's own description, `dataset.toml`: which files hold the layers whose
//! catalogue `path` has no extension. `gridlink gen-data` writes it; `gridlink import --to DIR`
//! adds the layers it wrote. Without it, a path without extension finds the one file there is.
//!
//! ```toml
//! format = "shp"        # extension of layer files whose path has none
//! encoding = "GBK"      # DBF/CSV text of layers whose [source] does not say
//! crs = "EPSG:4528"     # for information: what the files were written in
//! [layers.towns]
//! path = "towns.gpkg"   # this layer's file (relative to the data directory)
//! layer = "towns"       # and the layer inside it
//! ```

use super::{Location, SourceError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub const MANIFEST_FILE: &str = "dataset.toml";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crs: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub layers: BTreeMap<String, ManifestLayer>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestLayer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
}

impl Manifest {
    /// Reads `data_dir/dataset.toml`; no file is an empty manifest.
    pub fn read(data_dir: &Path) -> Result<Manifest, SourceError> {
        let path = data_dir.join(MANIFEST_FILE);
        if !path.is_file() {
            return Ok(Manifest::default());
        }
        let text = std::fs::read_to_string(&path).map_err(|e| SourceError::Unreadable {
            layer: "*".into(),
            location: Location::file(&path),
            message: e.to_string(),
        })?;
        let manifest: Manifest =
            crate::catalog::parse_toml(&path, &text).map_err(|e| SourceError::Malformed {
                layer: "*".into(),
                location: Location::file(&path),
                message: e.to_string(),
            })?;
        if let Some(encoding) = &manifest.encoding {
            if encoding_rs::Encoding::for_label(encoding.as_bytes()).is_none() {
                return Err(SourceError::Malformed {
                    layer: "*".into(),
                    location: Location::file(&path),
                    message: format!("unknown encoding {encoding:?}"),
                });
            }
        }
        Ok(manifest)
    }

    pub fn write(&self, data_dir: &Path) -> std::io::Result<()> {
        let text = toml::to_string(self).map_err(std::io::Error::other)?;
        std::fs::write(
            data_dir.join(MANIFEST_FILE),
            format!(
                "# Written by gridlink: which files hold the layers of this data directory.\n{text}"
            ),
        )
    }

    pub fn layer(&self, id: &str) -> Option<&ManifestLayer> {
        self.layers.get(id)
    }
}
