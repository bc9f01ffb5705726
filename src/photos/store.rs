//! Where photos live: any `object_store` back end, a local directory by default. Objects are
//! named by the photo's hash only, so what a client called its file never reaches a path.

use super::{Checked, PhotoError, is_hash};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use std::sync::Arc;

/// One of the stored copies of a photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// The bytes as uploaded (staff only: they keep the EXIF).
    Original,
    /// Re-encoded without metadata (everyone else).
    Public,
    Thumb,
}

#[derive(Clone)]
pub struct PhotoStore {
    objects: Arc<dyn ObjectStore>,
}

impl std::fmt::Debug for PhotoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PhotoStore({})", self.objects)
    }
}

fn key(hash: &str, variant: Variant) -> ObjectPath {
    let name = match variant {
        Variant::Original => hash.to_string(),
        Variant::Public => format!("{hash}.public.jpg"),
        Variant::Thumb => format!("{hash}.thumb.jpg"),
    };
    // Two-level fan-out keeps directories small.
    ObjectPath::from(format!("{}/{name}", &hash[..2]))
}

fn storage(e: object_store::Error) -> PhotoError {
    match e {
        object_store::Error::NotFound { .. } => PhotoError::NotFound,
        other => PhotoError::Storage(other.to_string()),
    }
}

impl PhotoStore {
    /// A directory on this machine (created if missing); every write is fsynced, file and
    /// directory, before it returns, so a photo is on disk before its case is committed.
    pub fn local(dir: &std::path::Path) -> Result<PhotoStore, PhotoError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| PhotoError::Storage(format!("cannot create {}: {e}", dir.display())))?;
        let fs = LocalFileSystem::new_with_prefix(dir)
            .map_err(storage)?
            .with_fsync(true);
        Ok(PhotoStore::over(Arc::new(fs)))
    }

    /// An S3-compatible bucket (a build with the `s3` feature; see [`super::s3`]). Every
    /// write is a PUT the server acknowledged, so a photo is stored before its case commits.
    pub fn s3(config: &super::S3Config) -> Result<PhotoStore, PhotoError> {
        Ok(PhotoStore::over(super::s3::open(config)?))
    }

    /// Any object store (an S3-compatible bucket, memory for tests).
    pub fn over(objects: Arc<dyn ObjectStore>) -> PhotoStore {
        PhotoStore { objects }
    }

    /// Stores the three copies of each photo; returns the keys this call created (a photo
    /// already there, sent again, is not written twice), so a failed step can take them back.
    pub async fn put_all(&self, photos: &[Checked]) -> Result<Vec<ObjectPath>, PhotoError> {
        let mut created = Vec::new();
        for photo in photos {
            for (variant, bytes) in [
                (Variant::Original, photo.original.clone()),
                (Variant::Public, bytes::Bytes::from(photo.public.clone())),
                (Variant::Thumb, bytes::Bytes::from(photo.thumb.clone())),
            ] {
                let key = key(&photo.info.hash, variant);
                match self.objects.head(&key).await {
                    Ok(_) => continue,
                    Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => {
                        self.remove(&created).await;
                        return Err(storage(e));
                    }
                }
                if let Err(e) = self.objects.put(&key, bytes.into()).await {
                    self.remove(&created).await;
                    return Err(storage(e));
                }
                created.push(key);
            }
        }
        Ok(created)
    }

    /// Best-effort removal of objects a failed step created.
    pub async fn remove(&self, keys: &[ObjectPath]) {
        for key in keys {
            if let Err(e) = self.objects.delete(key).await {
                tracing::warn!(%key, "removing an orphaned photo failed: {e}");
            }
        }
    }

    /// One copy of a stored photo.
    pub async fn get(&self, hash: &str, variant: Variant) -> Result<bytes::Bytes, PhotoError> {
        if !is_hash(hash) {
            return Err(PhotoError::NotFound);
        }
        let found = self
            .objects
            .get(&key(hash, variant))
            .await
            .map_err(storage)?;
        found.bytes().await.map_err(storage)
    }

    /// Whether a copy is stored (tests and checks).
    pub async fn exists(&self, hash: &str, variant: Variant) -> bool {
        is_hash(hash) && self.objects.head(&key(hash, variant)).await.is_ok()
    }
}
