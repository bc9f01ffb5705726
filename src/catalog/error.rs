use std::path::PathBuf;

/// A catalogue or code-table file that cannot be used. The message always names the file and,
/// where one is to blame, the field, so the operator can fix the file without reading code.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: field `{field}`: {message}")]
    Field {
        file: PathBuf,
        field: String,
        message: String,
    },
    #[error("{file}: {message}")]
    File { file: PathBuf, message: String },
}

impl CatalogError {
    pub fn field(
        file: impl Into<PathBuf>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        CatalogError::Field {
            file: file.into(),
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn file(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        CatalogError::File {
            file: file.into(),
            message: message.into(),
        }
    }
}

/// Parses a TOML file into `T`, turning serde's error into one that names the offending field
/// path (`fields[2].type`), which plain toml errors only give as a line number.
pub fn parse_toml<T: serde::de::DeserializeOwned>(
    file: &std::path::Path,
    text: &str,
) -> Result<T, CatalogError> {
    let deserializer = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let message = inner.message().to_string();
        if path.is_empty() || path == "." {
            CatalogError::file(file, message)
        } else {
            CatalogError::field(file, path, message)
        }
    })
}

/// Reads a whole file, naming it in the error.
pub fn read_text(file: &std::path::Path) -> Result<String, CatalogError> {
    std::fs::read_to_string(file).map_err(|source| CatalogError::Read {
        file: file.to_path_buf(),
        source,
    })
}
