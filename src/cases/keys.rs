//! API keys: random secrets shown once; only their SHA-256 is stored, so a leaked database does
//! not leak working keys. A key's role (and, for `unit`, its handling unit) decides what it may do.

use super::error::{CaseError, Result};
use super::model::{Actor, Role};
use super::network::Node;
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
    create_at(db, role, unit, None, label, now).await
}

/// Which roles a node's keys may have: a sub-centre or the district centre dispatches and
/// verifies; a workstation verifies, calls back and reports (a `supervisor` key); a command
/// body dispatches its own affairs; a unit key is a unit's.
pub fn role_fits_node(role: Role, node: &Node) -> bool {
    match node {
        Node::District => role != Role::Unit,
        Node::Town(_) => matches!(role, Role::Dispatcher | Role::Supervisor),
        Node::Village(_) => role == Role::Supervisor,
        Node::Unit(_) => role == Role::Unit,
        Node::Command(_) => role == Role::Dispatcher,
    }
}

/// Creates a key bound to a node of the network (whose existence the caller checked against
/// the layers and code tables: [`super::network::NodeDirectory::resolve`]). A unit key may
/// name its unit as `unit` or as the node `unit:CODE`.
pub async fn create_at(
    db: &Db,
    role: Role,
    unit: Option<&str>,
    node: Option<&Node>,
    label: Option<&str>,
    now: i64,
) -> Result<CreatedKey> {
    let node_unit = match node {
        Some(Node::Unit(code)) => Some(code.as_str()),
        _ => None,
    };
    if let (Some(a), Some(b)) = (unit, node_unit)
        && a != b
    {
        return Err(CaseError::invalid(
            "unit",
            format!("--unit {a} and --node unit:{b} name different units"),
        ));
    }
    let unit = unit.or(node_unit);
    if let Some(node) = node
        && !role_fits_node(role, node)
    {
        return Err(CaseError::invalid(
            "node",
            format!(
                "a {} key cannot be bound to {} (district/town: dispatcher or supervisor; village: supervisor; unit: unit; command body: dispatcher)",
                role.as_str(),
                node.as_string()
            ),
        ));
    }
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
    let node = node.map(Node::as_string);
    let id = insert_key(
        db,
        &hash(&secret),
        &prefix,
        role.as_str(),
        unit,
        node.as_deref(),
        label,
        now,
    )
    .await?;
    Ok(CreatedKey { id, secret, prefix })
}

/// The actor a presented secret stands for, if it is a live key.
pub async fn resolve(db: &Db, secret: &str) -> Result<Option<Actor>> {
    let Some(key) = find_key(db, &hash(secret)).await? else {
        return Ok(None);
    };
    let role = Role::parse(&key.role)
        .ok_or_else(|| CaseError::Corrupt(format!("key {} has role {:?}", key.id, key.role)))?;
    let node = match key.node.as_deref() {
        None => None,
        Some(text) => Some(
            Node::parse(text)
                .ok_or_else(|| CaseError::Corrupt(format!("key {} has node {text:?}", key.id)))?,
        ),
    };
    Ok(Some(Actor {
        role,
        unit: key.unit,
        name: key.label.unwrap_or(key.prefix),
        node,
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
    /// The node of the network (`None`: the district centre).
    pub node: Option<String>,
}

#[allow(clippy::too_many_arguments)]
async fn insert_key(
    db: &Db,
    hash: &str,
    prefix: &str,
    role: &str,
    unit: Option<&str>,
    node: Option<&str>,
    label: Option<&str>,
    now: i64,
) -> Result<i64> {
    const TEXT: &str = "INSERT INTO api_keys (hash, prefix, role, unit, node, label, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id";
    on_db!(db, |pool, sql| {
        let sql = sql(TEXT);
        let id: i64 = sqlx::query(&sql)
            .bind(hash)
            .bind(prefix)
            .bind(role)
            .bind(unit)
            .bind(node)
            .bind(label)
            .bind(now)
            .fetch_one(pool)
            .await?
            .try_get(0)?;
        Ok(id)
    })
}

async fn find_key(db: &Db, hash: &str) -> Result<Option<StoredKey>> {
    const TEXT: &str = "SELECT id, prefix, role, unit, label, node FROM api_keys WHERE hash = ? AND revoked_at IS NULL";
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
                node: row.try_get("node")?,
            })),
        }
    })
}

pub async fn list(db: &Db) -> Result<Vec<StoredKey>> {
    const TEXT: &str = "SELECT id, prefix, role, unit, label, node FROM api_keys WHERE revoked_at IS NULL ORDER BY id";
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
                node: row.try_get("node")?,
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
