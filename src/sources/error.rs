use std::path::PathBuf;

/// A layer source that cannot be read at all. Feature-level trouble is not an error: it is a
/// [`super::FeatureProblem`] and the feature is skipped.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("layer {layer}: cannot read {file}: {message}")]
    Unreadable {
        layer: String,
        file: PathBuf,
        message: String,
    },
    #[error("layer {layer}: {file}: {message}")]
    Malformed {
        layer: String,
        file: PathBuf,
        message: String,
    },
}
