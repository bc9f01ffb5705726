/// Why a service could not answer. The HTTP layer maps each to one status and error code.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ServiceError {
    #[error("the point ({lon}, {lat}) is outside the district: no unit grid cell contains it")]
    OutsideDistrict { lon: f64, lat: f64 },
    #[error("the catalogue has no unit grid layer (role grid_cell), so points cannot be located")]
    NoGrid,
    #[error("unknown case class {0:?}")]
    UnknownClass(String),
    #[error("unknown layer {0:?}")]
    UnknownLayer(String),
    #[error("the catalogue has no layer for the role {0}")]
    MissingRole(&'static str),
    #[error("{message}")]
    InvalidFilter { field: String, message: String },
}

impl ServiceError {
    /// Names the point as the caller gave it (before any CRS conversion) when it is outside
    /// the district: the caller recognises their own numbers.
    pub fn as_given(self, lon: f64, lat: f64) -> ServiceError {
        match self {
            ServiceError::OutsideDistrict { .. } => ServiceError::OutsideDistrict { lon, lat },
            other => other,
        }
    }
}
