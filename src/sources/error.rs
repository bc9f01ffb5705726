use super::Location;

/// A layer source that cannot be used at all. Feature-level trouble is not an error: it is a
/// [`super::FeatureProblem`] and the feature is skipped. Every message names the layer and the
/// file or table, and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("layer {layer}: cannot read {location}: {message}")]
    Unreadable {
        layer: String,
        location: Location,
        message: String,
    },
    #[error("layer {layer}: {location}: {message}")]
    Malformed {
        layer: String,
        location: Location,
        message: String,
    },
}

impl SourceError {
    pub fn layer(&self) -> &str {
        match self {
            SourceError::Unreadable { layer, .. } | SourceError::Malformed { layer, .. } => layer,
        }
    }
}
