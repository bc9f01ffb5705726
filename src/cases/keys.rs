//! API keys: random secrets shown once; only their SHA-256 is stored, so a leaked database does
//! not leak working keys. A key's role (and, for `unit`, its handling unit) decides what it may do.

use super::error::{CaseError, Result};
use super::model::{Actor, Role};
use crate::db::{Db, on_db};
use rand::Rng;
use sha2::{Digest, Sha256};
use sqlx::Row;

/// Every key starts with this, so a key pasted into the wrong place is recognisable.
pub const KEY_PREFIX: &str = "glk_";

pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new secret: 32 random bytes from the OS-seeded generator, hex-encoded.
pub fn generate() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    format!("{KEY_PREFIX}{}", hex::encode(bytes))
}

/// A created key: the secret (print it once) and its stored id.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    pub id: i64,
    pub secret: String,
    pub prefix: String,
}

pub async fn create(
    db: &Db,
    role: Role,
    unit: Option<&str>,
    label: Option<&str>,
    now: i64,
) -> Result<CreatedKey> {
    if role == Role::Anonymous {
        return Err(CaseError::invalid("role", "anonymous needs no key"));
    }
    if (role == Role::Unit) != unit.is_some() {
        return Err(CaseError::invalid(
            "unit",
            "a unit key needs --unit CODE, and only unit keys take one",
        ));
    }
    let secret = generate();
    let prefix = secret[..KEY_PREFIX.len() + 8].to_string();
    let id = insert_key(db, &hash(&secret), &prefix, role.as_str(), unit, label, now).await?;
    Ok(CreatedKey { id, secret, prefix })
}

/// The actor a presented secret stands for, if it is a live key.
pub async fn resolve(db: &Db, secret: &str) -> Result<Option<Actor>> {
    let Some(key) = find_key(db, &hash(secret)).await? else {
        return Ok(None);
    };
    let role = Role::parse(&key.role)
        .ok_or_else(|| CaseError::Corrupt(format!("key {} has role {:?}", key.id, key.role)))?;
    Ok(Some(Actor {
        role,
        unit: key.unit,
        name: key.label.unwrap_or(key.prefix),
    }))
}

/// A stored API key (only the hash of the secret is kept).
#[derive(Debug, Clone)]
pub struct StoredKey {
    pub id: i64,
    pub prefix: String,
    pub role: String,
    pub unit: Option<String>,
    pub label: Option<String>,
}

async fn insert_key(
    db: &Db,
    hash: &str,
    prefix: &str,
    role: &str,
    unit: Option<&str>,
    label: Option<&str>,
    now: i64,
) -> Result<i64> {
    const TEXT: &str = "INSERT INTO api_keys (hash, prefix, role, unit, label, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id";
    on_db!(db, |pool, sql| {
        let sql = sql(TEXT);
        let id: i64 = sqlx::query(&sql)
            .bind(hash)
            .bind(prefix)
            .bind(role)
            .bind(unit)
            .bind(label)
            .bind(now)
            .fetch_one(pool)
            .await?
            .try_get(0)?;
        Ok(id)
    })
}

async fn find_key(db: &Db, hash: &str) -> Result<Option<StoredKey>> {
    const TEXT: &str =
        "SELECT id, prefix, role, unit, label FROM api_keys WHERE hash = ? AND revoked_at IS NULL";
    on_db!(db, |pool, sql| {
        let sql = sql(TEXT);
        let row = sqlx::query(&sql).bind(hash).fetch_optional(pool).await?;
        match row {
            None => Ok(None),
            Some(row) => Ok(Some(StoredKey {
                id: row.try_get("id")?,
                prefix: row.try_get("prefix")?,
                role: row.try_get("role")?,
                unit: row.try_get("unit")?,
                label: row.try_get("label")?,
            })),
        }
    })
}

pub async fn list(db: &Db) -> Result<Vec<StoredKey>> {
    const TEXT: &str =
        "SELECT id, prefix, role, unit, label FROM api_keys WHERE revoked_at IS NULL ORDER BY id";
    on_db!(db, |pool, sql| {
        let sql = sql(TEXT);
        let rows = sqlx::query(&sql).fetch_all(pool).await?;
        let mut out = Vec::new();
        for row in &rows {
            out.push(StoredKey {
                id: row.try_get("id")?,
                prefix: row.try_get("prefix")?,
                role: row.try_get("role")?,
                unit: row.try_get("unit")?,
                label: row.try_get("label")?,
            });
        }
        Ok(out)
    })
}

pub async fn revoke(db: &Db, id: i64, now: i64) -> Result<bool> {
    const TEXT: &str = "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL";
    on_db!(db, |pool, sql| {
        let sql = sql(TEXT);
        let done = sqlx::query(&sql).bind(now).bind(id).execute(pool).await?;
        Ok(done.rows_affected() > 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_only_their_hash_is_compared() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert!(a.starts_with(KEY_PREFIX) && a.len() == KEY_PREFIX.len() + 64);
        assert_eq!(hash(&a), hash(&a));
        assert_ne!(hash(&a), hash(&b));
        assert_eq!(hash(&a).len(), 64);
    }
}
