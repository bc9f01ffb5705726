//! Bodies that may carry photos: plain JSON as before, or `multipart/form-data` with the same
//! JSON fields as text parts and the photos as file parts named `photos`. Both end in the same
//! typed request struct (so the same validation and the same error naming), plus the checked
//! uploads. Limits are enforced while the body streams in: the tenth file or the byte past
//! 10 MB stops the read (413), and a file that is not an image by its content is refused
//! (415) before anything is stored.

use super::ApiError;
use crate::photos::{self, Checked, MAX_BYTES, MAX_PER_STEP, PhotoError};
use axum::extract::{FromRequest, Multipart, Request};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Largest JSON body (a report or an action without uploads).
pub const JSON_LIMIT: usize = 1024 * 1024;
/// Largest multipart body: nine photos of 10 MB and the text fields.
pub const MULTIPART_LIMIT: usize = MAX_PER_STEP * MAX_BYTES + 1024 * 1024;
/// Largest text part.
const TEXT_LIMIT: usize = 64 * 1024;
/// The file parts' name.
const FILES: &str = "photos";

/// How a text part becomes a JSON value of the request struct.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Text,
    Number,
    Integer,
    Bool,
    /// Repeatable: every part of this name is one element.
    List,
}

/// A parsed body: the request and the photos uploaded with it (checked, not stored).
pub struct WithPhotos<T> {
    pub body: T,
    pub uploads: Vec<Checked>,
}

fn is_multipart(request: &Request) -> bool {
    super::params::content_type(request.headers()).as_deref() == Some("multipart/form-data")
}

/// Reads a JSON or multipart body into `T`; `kinds` types the multipart text fields (a name not
/// listed stays text, and the struct's `deny_unknown_fields` names it if it is unknown).
pub async fn read<T: DeserializeOwned, S: Send + Sync>(
    request: Request,
    state: &S,
    kinds: &[(&str, Kind)],
) -> Result<WithPhotos<T>, ApiError> {
    if !is_multipart(&request) {
        let bytes = axum::body::to_bytes(request.into_body(), JSON_LIMIT)
            .await
            .map_err(|_| {
                ApiError::new(
                    axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    format!("a JSON body may be at most {JSON_LIMIT} bytes; send photos as multipart/form-data"),
                )
                .with_field("body")
            })?;
        return Ok(WithPhotos {
            body: super::params::parse_body(&bytes)?,
            uploads: Vec::new(),
        });
    }
    let mut multipart = Multipart::from_request(request, state).await.map_err(|e| {
        ApiError::new(e.status(), "bad_multipart", e.body_text()).with_field("body")
    })?;
    let mut fields = Map::new();
    let mut files: Vec<bytes::Bytes> = Vec::new();
    while let Some(mut part) = multipart.next_field().await.map_err(multipart_error)? {
        let name = part.name().unwrap_or_default().to_string();
        let is_file = part.file_name().is_some()
            || part
                .content_type()
                .is_some_and(|t| !t.starts_with("text/plain"));
        if is_file {
            if name != FILES {
                return Err(ApiError::invalid(
                    &name,
                    format!("files go in parts named {FILES:?}"),
                ));
            }
            if files.len() == MAX_PER_STEP {
                return Err(ApiError::from(PhotoError::TooMany));
            }
            let index = files.len();
            let mut data = Vec::new();
            while let Some(chunk) = part.chunk().await.map_err(multipart_error)? {
                if data.len() + chunk.len() > MAX_BYTES {
                    return Err(
                        ApiError::from(PhotoError::TooLarge).with_field(format!("photos[{index}]"))
                    );
                }
                data.extend_from_slice(&chunk);
            }
            files.push(bytes::Bytes::from(data));
            continue;
        }
        let mut text = Vec::new();
        while let Some(chunk) = part.chunk().await.map_err(multipart_error)? {
            if text.len() + chunk.len() > TEXT_LIMIT {
                return Err(ApiError::invalid(
                    &name,
                    format!("a text part may be at most {TEXT_LIMIT} bytes"),
                ));
            }
            text.extend_from_slice(&chunk);
        }
        let text = String::from_utf8(text)
            .map_err(|_| ApiError::invalid(&name, "text parts must be UTF-8"))?;
        let kind = kinds
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(Kind::Text, |(_, k)| *k);
        let value = typed(&name, text.trim(), kind)?;
        match kind {
            Kind::List => {
                let list = fields
                    .entry(name.clone())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(items) = list {
                    items.push(value);
                }
            }
            _ => {
                if fields.insert(name.clone(), value).is_some() {
                    return Err(ApiError::invalid(&name, "given twice"));
                }
            }
        }
    }
    let body: T = serde_path_to_error::deserialize(Value::Object(fields)).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "body".to_string()
        } else {
            path
        };
        ApiError::invalid(&field, format!("bad form field: {}", e.inner()))
    })?;
    let uploads = check_all(files).await?;
    Ok(WithPhotos { body, uploads })
}

/// A text part as the JSON value its field expects (an empty number is left out).
fn typed(name: &str, text: &str, kind: Kind) -> Result<Value, ApiError> {
    let bad = |what: &str| ApiError::invalid(name, format!("{name} must be {what}, got {text:?}"));
    Ok(match kind {
        Kind::Text | Kind::List => Value::String(text.to_string()),
        Kind::Number => {
            let v: f64 = text.parse().map_err(|_| bad("a number"))?;
            serde_json::Number::from_f64(v)
                .map(Value::Number)
                .ok_or_else(|| bad("a finite number"))?
        }
        Kind::Integer => Value::from(text.parse::<i64>().map_err(|_| bad("a whole number"))?),
        Kind::Bool => match text {
            "true" | "1" | "yes" | "on" => Value::Bool(true),
            "false" | "0" | "no" | "off" => Value::Bool(false),
            _ => return Err(bad("true or false")),
        },
    })
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    let status = e.status();
    let code = if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        "body_too_large"
    } else {
        "bad_multipart"
    };
    ApiError::new(status, code, e.body_text()).with_field("body")
}

/// Checks every upload off the async executor; the first refusal names its part.
async fn check_all(files: Vec<bytes::Bytes>) -> Result<Vec<Checked>, ApiError> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    tokio::task::spawn_blocking(move || {
        files
            .into_iter()
            .enumerate()
            .map(|(i, data)| {
                photos::check(data)
                    .map_err(|e| ApiError::from(e).with_field(format!("photos[{i}]")))
            })
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(|e| ApiError::internal(format!("photo check failed: {e}")))?
}
