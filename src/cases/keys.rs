//! API keys: random secrets shown once; only their SHA-256 is stored, so a leaked database does
//! not leak working keys. A key's role (and, for `unit`, its handling unit) decides what it may do.

use super::error::{CaseError, Result};
use super::model::{Actor, Role};
use super::store::CaseDb;
use rand::Rng;
use sha2::{Digest, Sha256};

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
    db: &CaseDb,
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
    let id = db
        .insert_key(&hash(&secret), &prefix, role.as_str(), unit, label, now)
        .await?;
    Ok(CreatedKey { id, secret, prefix })
}

/// The actor a presented secret stands for, if it is a live key.
pub async fn resolve(db: &CaseDb, secret: &str) -> Result<Option<Actor>> {
    let Some(key) = db.find_key(&hash(secret)).await? else {
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
