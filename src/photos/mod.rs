//! Photos and attachments (现场照片): what field reporters and citizens send instead of URLs.
//!
//! An upload is checked by its content, never by its name or declared type: it must be a JPEG,
//! PNG or WebP by its magic bytes and decode as one, at most [`MAX_BYTES`], at most
//! [`MAX_PER_STEP`] in one report or action ([`check`]). Each accepted photo is stored
//! content-addressed (its SHA-256) through the `object_store` crate ([`PhotoStore`]: a local
//! directory under the data directory by default, fsynced; an S3-compatible bucket when
//! configured, [`s3`]), in three variants: the original
//! (for staff: evidence, with its EXIF), a re-encoded copy for everyone else (re-encoding drops
//! EXIF, and with it the GPS position and the camera's serial number) and a thumbnail. File
//! names never reach the file system: the object key is the hash.
//!
//! Which case a photo belongs to, and who may therefore see it, is recorded in the application
//! database (`case_photos`), in the same transaction as the case or the action that brought it.
//!
//! Floor 7 (see the crate doc): imports nothing from the crate.

mod check;
pub mod s3;
mod store;

pub use check::{Checked, check};
pub use s3::S3Config;
pub use store::{PhotoStore, Variant};

use serde::Serialize;

/// Largest photo accepted (bytes).
pub const MAX_BYTES: usize = 10 * 1024 * 1024;
/// Most photos one report or action may carry (uploads and URLs together).
pub const MAX_PER_STEP: usize = 9;
/// Longest side of a thumbnail (pixels).
pub const THUMB_PX: u32 = 320;
/// Largest width or height decoded (a guard against decompression bombs; 50 MP phones stay
/// well inside it).
pub const MAX_DIMENSION: u32 = 12_000;

/// What is recorded of a stored photo.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhotoInfo {
    /// SHA-256 of the original bytes, lower-case hex: the photo's name everywhere.
    pub hash: String,
    /// `image/jpeg`, `image/png` or `image/webp`, from the content.
    pub content_type: String,
    pub bytes: i64,
    pub width: i64,
    pub height: i64,
    /// The camera's GPS position from EXIF (WGS84, as phones' cameras record it), a hint for the
    /// dispatcher; never shown to the public.
    pub exif_lon: Option<f64>,
    pub exif_lat: Option<f64>,
}

/// How a stored photo is referred to in a case's `photos` list and in URLs.
pub fn url(hash: &str) -> String {
    format!("{URL_PREFIX}{hash}")
}

pub const URL_PREFIX: &str = "/api/photos/";

/// The hash of a photo stored here, from its entry in a `photos` list (`None` for a photo that
/// is an outside URL).
pub fn hash_of(entry: &str) -> Option<&str> {
    entry.strip_prefix(URL_PREFIX).filter(|h| is_hash(h))
}

/// 64 lower-case hex digits: the only thing ever used to build an object key.
pub fn is_hash(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    #[error("a photo may be at most {max} bytes (10 MB)", max = MAX_BYTES)]
    TooLarge,
    #[error("at most {max} photos in one step", max = MAX_PER_STEP)]
    TooMany,
    #[error("not a JPEG, PNG or WebP image (by its content)")]
    NotAnImage,
    #[error("the image does not decode: {0}")]
    Undecodable(String),
    #[error("the image is larger than {max} pixels on a side", max = MAX_DIMENSION)]
    TooManyPixels,
    #[error("no such photo")]
    NotFound,
    #[error("photo storage: {0}")]
    Storage(String),
    #[error("photo uploads are not configured on this server")]
    NotConfigured,
    #[error("photo store settings: {0}")]
    Config(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hex_hashes_name_objects() {
        let h = "a".repeat(64);
        assert_eq!(hash_of(&url(&h)), Some(h.as_str()));
        assert_eq!(hash_of("/api/photos/../../etc/passwd"), None);
        assert_eq!(hash_of(&format!("/api/photos/{}", "A".repeat(64))), None);
        assert_eq!(hash_of("https://example.org/a.jpg"), None);
        assert!(!is_hash(&"a".repeat(63)));
    }
}
