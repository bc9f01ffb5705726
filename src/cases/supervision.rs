//! Supervision orders (督办单): the district centre (or a sub-centre, for its own town) orders a
//! sub-centre or a unit to act on one case by a due time; the target replies; the issuer closes
//! it. Each step is a record of its own and an entry in the case's history, written in one
//! transaction. "Overdue" is an open order past its due time, read off the clock, never stored.

use super::error::{CaseError, Result};
use super::model::{Actor, Case, Role};
use super::network::{DISTRICT, Node, NodeDirectory};
use crate::db::{Db, on_db};
use serde::Serialize;
use sqlx::Row;

/// Longest requirement or reply.
pub const MAX_TEXT: usize = 2000;
/// Longest time an order may run.
pub const MAX_DUE_H: i64 = 24 * 90;
const HOUR_MS: i64 = 3_600_000;

/// A stored supervision order.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Order {
    pub id: i64,
    pub case_id: i64,
    /// The issuing node: `district` or `town:CODE`.
    pub issuer: String,
    pub issued_by: String,
    /// `town:CODE` (a sub-centre) or `unit:CODE` (a handling unit).
    pub target: String,
    pub requirement: String,
    pub due_at: i64,
    /// `open`, `replied` or `closed` as stored (see [`Order::state`] for `overdue`).
    pub status: String,
    pub reply: Option<String>,
    pub replied_by: Option<String>,
    pub replied_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub created_at: i64,
    pub version: i64,
}

impl Order {
    /// The status as shown: an open order past its due time is `overdue`.
    pub fn state(&self, now: i64) -> &'static str {
        match self.status.as_str() {
            "open" if now > self.due_at => "overdue",
            "open" => "open",
            "replied" => "replied",
            _ => "closed",
        }
    }

    /// Replied by the due time (`None` while unanswered).
    pub fn answered_on_time(&self) -> Option<bool> {
        self.replied_at.map(|r| r <= self.due_at)
    }
}

/// An order as the API receives it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueRequest {
    /// `town:CODE` or `unit:CODE`.
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub requirement: Option<String>,
    /// The due time, RFC 3339 (or give `due_hours`).
    #[serde(default)]
    pub due: Option<String>,
    #[serde(default)]
    pub due_hours: Option<i64>,
}

/// A filter on the order list.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    /// `open`, `overdue`, `replied` or `closed`.
    pub state: Option<String>,
    pub target: Option<String>,
    pub issuer: Option<String>,
    pub case_id: Option<i64>,
    pub limit: i64,
}

pub const STATES: [&str; 4] = ["open", "overdue", "replied", "closed"];

const COLUMNS: &str = "id, case_id, issuer, issued_by, target, requirement, due_at, status, reply, replied_by, replied_at, closed_at, created_at, version";

macro_rules! order_from_row {
    ($row:expr) => {{
        let row = $row;
        Order {
            id: row.try_get("id")?,
            case_id: row.try_get("case_id")?,
            issuer: row.try_get("issuer")?,
            issued_by: row.try_get("issued_by")?,
            target: row.try_get("target")?,
            requirement: row.try_get("requirement")?,
            due_at: row.try_get("due_at")?,
            status: row.try_get("status")?,
            reply: row.try_get("reply")?,
            replied_by: row.try_get("replied_by")?,
            replied_at: row.try_get("replied_at")?,
            closed_at: row.try_get("closed_at")?,
            created_at: row.try_get("created_at")?,
            version: row.try_get("version")?,
        }
    }};
}

/// The history entry of an order step: the case keeps its status; the event says which order.
const EVENT: &str = "INSERT INTO case_events (case_id, action, from_status, to_status, actor, role, unit, at, note, photos, data) SELECT id, ?, status, status, ?, ?, ?, ?, ?, '[]', ? FROM cases WHERE id = ?";

fn text_field(field: &str, value: Option<&str>, what: &str) -> Result<String> {
    let text = value
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| CaseError::invalid(field, format!("{what} is required")))?;
    if text.chars().count() > MAX_TEXT {
        return Err(CaseError::invalid(
            field,
            format!("at most {MAX_TEXT} characters"),
        ));
    }
    Ok(text.to_string())
}

/// Who may issue an order about this case to this target: the district centre (dispatcher,
/// supervisor or admin bound to it) to a sub-centre or a unit; a sub-centre only about a case in
/// its own town and only to a unit. Returns the issuing node.
pub fn may_issue(actor: &Actor, case: &Case, target: &Node) -> Result<String> {
    if !matches!(
        actor.role,
        Role::Dispatcher | Role::Supervisor | Role::Admin
    ) {
        return Err(if actor.role == Role::Anonymous {
            CaseError::Refused(super::workflow::Refusal::NeedsKey)
        } else {
            CaseError::Refused(super::workflow::Refusal::Role {
                allowed: vec!["dispatcher", "supervisor", "admin"],
            })
        });
    }
    match actor.effective_node() {
        Node::District => Ok(DISTRICT.to_string()),
        Node::Town(town) => {
            if case.town.as_deref() != Some(town.as_str()) {
                return Err(refuse(
                    "not_your_town",
                    format!(
                        "a sub-centre supervises the cases of its own town ({town}); this one is in {}",
                        case.town.as_deref().unwrap_or("no town")
                    ),
                ));
            }
            if !matches!(target, Node::Unit(_)) {
                return Err(CaseError::invalid(
                    "target",
                    "a sub-centre's order goes to a handling unit (unit:CODE)",
                ));
            }
            Ok(super::network::town_queue(&town))
        }
        _ => Err(refuse(
            "not_your_queue",
            "supervision orders are issued by the district centre or a sub-centre",
        )),
    }
}

fn refuse(rule: &'static str, message: impl Into<String>) -> CaseError {
    CaseError::Refused(super::workflow::Refusal::Node {
        rule,
        message: message.into(),
    })
}

/// Only the target answers its order (an admin may for it).
pub fn may_reply(actor: &Actor, order: &Order) -> Result<()> {
    if actor.role == Role::Admin {
        return Ok(());
    }
    let node = actor.effective_node();
    let mine = match &node {
        Node::Unit(_) => actor.role == Role::Unit,
        Node::Town(_) => actor.role == Role::Dispatcher,
        _ => false,
    } && node.as_string() == order.target;
    if mine {
        return Ok(());
    }
    let rule = if order.target.starts_with("unit:") {
        "not_your_unit"
    } else {
        "not_your_town"
    };
    Err(refuse(
        rule,
        format!("this order is addressed to {}", order.target),
    ))
}

/// Only the issuing node closes its order (an admin may for it).
pub fn may_close(actor: &Actor, order: &Order) -> Result<()> {
    if actor.role == Role::Admin {
        return Ok(());
    }
    let node = actor.effective_node();
    if matches!(actor.role, Role::Dispatcher | Role::Supervisor)
        && node.queue().as_deref() == Some(order.issuer.as_str())
    {
        return Ok(());
    }
    Err(refuse(
        "not_your_queue",
        format!("this order was issued by {}", order.issuer),
    ))
}

/// Checks an issue request against the network: the target exists, the due time is in the
/// future (and not absurdly far).
pub fn check_issue(
    directory: &NodeDirectory<'_>,
    request: &IssueRequest,
    now: i64,
) -> Result<(Node, String, i64)> {
    let target_text = text_field(
        "target",
        request.target.as_deref(),
        "the target (town:CODE or unit:CODE)",
    )?;
    let target = directory.resolve(&target_text).map_err(|e| match e {
        CaseError::Invalid { message, .. } => CaseError::invalid("target", message),
        other => other,
    })?;
    if !matches!(target, Node::Town(_) | Node::Unit(_)) {
        return Err(CaseError::invalid(
            "target",
            "an order goes to a sub-centre (town:CODE) or a handling unit (unit:CODE)",
        ));
    }
    let requirement = text_field(
        "requirement",
        request.requirement.as_deref(),
        "the requirement",
    )?;
    let due_at = match (request.due.as_deref(), request.due_hours) {
        (Some(_), Some(_)) => {
            return Err(CaseError::invalid("due", "give due or due_hours, not both"));
        }
        (Some(text), None) => super::clock::parse_time(text).ok_or_else(|| {
            CaseError::invalid("due", format!("due must be an RFC 3339 time, got {text:?}"))
        })?,
        (None, Some(h)) if (1..=MAX_DUE_H).contains(&h) => now + h * HOUR_MS,
        (None, Some(_)) => {
            return Err(CaseError::invalid(
                "due_hours",
                format!("due_hours must be 1–{MAX_DUE_H}"),
            ));
        }
        (None, None) => {
            return Err(CaseError::invalid(
                "due",
                "a supervision order needs a due time (due or due_hours)",
            ));
        }
    };
    if due_at <= now {
        return Err(CaseError::invalid("due", "the due time has already passed"));
    }
    if due_at > now + MAX_DUE_H * HOUR_MS {
        return Err(CaseError::invalid(
            "due",
            format!("at most {MAX_DUE_H} hours ahead"),
        ));
    }
    Ok((target, requirement, due_at))
}

/// A reply or closing note, checked.
pub fn check_text(field: &str, value: Option<&str>, what: &str) -> Result<String> {
    text_field(field, value, what)
}

/// The order tables (in the application database).
pub struct OrderStore<'a> {
    pub db: &'a Db,
}

impl OrderStore<'_> {
    /// Stores a new order, marks the case supervised and writes the history entry, in one
    /// transaction.
    #[allow(clippy::too_many_arguments)]
    pub async fn issue(
        &self,
        case_id: i64,
        issuer: &str,
        actor: &Actor,
        target: &str,
        requirement: &str,
        due_at: i64,
        now: i64,
    ) -> Result<Order> {
        const INSERT: &str = "INSERT INTO supervision_orders (case_id, issuer, issued_by, target, requirement, due_at, status, created_at) VALUES (?, ?, ?, ?, ?, ?, 'open', ?) RETURNING id";
        const FLAG: &str =
            "UPDATE cases SET supervised = ?, updated_at = ?, version = version + 1 WHERE id = ?";
        on_db!(self.db, |pool, sql| {
            let (insert, flag, event) = (sql(INSERT), sql(FLAG), sql(EVENT));
            let mut tx = pool.begin().await?;
            let id: i64 = sqlx::query(&insert)
                .bind(case_id)
                .bind(issuer)
                .bind(&actor.name)
                .bind(target)
                .bind(requirement)
                .bind(due_at)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
            sqlx::query(&flag)
                .bind(true)
                .bind(now)
                .bind(case_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(&event)
                .bind("supervision_order")
                .bind(&actor.name)
                .bind(actor.role.as_str())
                .bind(&actor.unit)
                .bind(now)
                .bind(requirement)
                .bind(
                    serde_json::json!({"order": id, "target": target, "issuer": issuer, "due_at": due_at})
                        .to_string(),
                )
                .bind(case_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<(), CaseError>(())
        })?;
        self.latest_of_case(case_id).await
    }

    async fn latest_of_case(&self, case_id: i64) -> Result<Order> {
        let text = format!(
            "SELECT {COLUMNS} FROM supervision_orders WHERE case_id = ? ORDER BY id DESC LIMIT 1"
        );
        on_db!(self.db, |pool, sql| {
            let sql = sql(&text);
            let row = sqlx::query(&sql).bind(case_id).fetch_one(pool).await?;
            Ok(order_from_row!(&row))
        })
    }

    pub async fn get(&self, id: i64) -> Result<Option<Order>> {
        let text = format!("SELECT {COLUMNS} FROM supervision_orders WHERE id = ?");
        on_db!(self.db, |pool, sql| {
            let sql = sql(&text);
            let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
            Ok(match row {
                Some(row) => Some(order_from_row!(&row)),
                None => None,
            })
        })
    }

    /// Moves an order from `from` to `to` (with the reply, or the closing time) if nobody moved
    /// it meanwhile, and writes the history entry; the order afterwards, or `None` if it was no
    /// longer in `from`.
    #[allow(clippy::too_many_arguments)]
    pub async fn step(
        &self,
        order: &Order,
        from: &[&str],
        to: &str,
        actor: &Actor,
        text: &str,
        now: i64,
    ) -> Result<Option<Order>> {
        const REPLY: &str = "UPDATE supervision_orders SET status = 'replied', reply = ?, replied_by = ?, replied_at = ?, version = version + 1 WHERE id = ? AND version = ?";
        const CLOSE: &str = "UPDATE supervision_orders SET status = 'closed', closed_at = ?, version = version + 1 WHERE id = ? AND version = ?";
        if !from.contains(&order.status.as_str()) {
            return Ok(None);
        }
        let action = if to == "replied" {
            "supervision_reply"
        } else {
            "supervision_close"
        };
        on_db!(self.db, |pool, sql| {
            let event = sql(EVENT);
            let mut tx = pool.begin().await?;
            let done = if to == "replied" {
                let q = sql(REPLY);
                sqlx::query(&q)
                    .bind(text)
                    .bind(&actor.name)
                    .bind(now)
                    .bind(order.id)
                    .bind(order.version)
                    .execute(&mut *tx)
                    .await?
            } else {
                let q = sql(CLOSE);
                sqlx::query(&q)
                    .bind(now)
                    .bind(order.id)
                    .bind(order.version)
                    .execute(&mut *tx)
                    .await?
            };
            if done.rows_affected() == 0 {
                tx.rollback().await?;
                return Ok(None);
            }
            sqlx::query(&event)
                .bind(action)
                .bind(&actor.name)
                .bind(actor.role.as_str())
                .bind(&actor.unit)
                .bind(now)
                .bind(text)
                .bind(
                    serde_json::json!({
                        "order": order.id,
                        "target": order.target,
                        "due_at": order.due_at,
                        "on_time": now <= order.due_at,
                    })
                    .to_string(),
                )
                .bind(order.case_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<(), CaseError>(())
        })?;
        self.get(order.id).await
    }

    /// Orders matching the filter, newest first.
    pub async fn list(&self, f: &OrderFilter, now: i64) -> Result<Vec<Order>> {
        let mut clauses: Vec<&str> = Vec::new();
        let mut texts: Vec<String> = Vec::new();
        let mut ints: Vec<i64> = Vec::new();
        // Text binds first, then whole numbers, in the order the clauses are written.
        if let Some(t) = &f.target {
            clauses.push("target = ?");
            texts.push(t.clone());
        }
        if let Some(i) = &f.issuer {
            clauses.push("issuer = ?");
            texts.push(i.clone());
        }
        match f.state.as_deref() {
            Some("open") => {
                clauses.push("status = 'open' AND due_at >= ?");
                ints.push(now);
            }
            Some("overdue") => {
                clauses.push("status = 'open' AND due_at < ?");
                ints.push(now);
            }
            Some("replied") => clauses.push("status = 'replied'"),
            Some("closed") => clauses.push("status = 'closed'"),
            _ => {}
        }
        if let Some(c) = f.case_id {
            clauses.push("case_id = ?");
            ints.push(c);
        }
        let filter = if clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", clauses.join(" AND "))
        };
        let text =
            format!("SELECT {COLUMNS} FROM supervision_orders{filter} ORDER BY id DESC LIMIT ?");
        on_db!(self.db, |pool, sql| {
            let sql = sql(&text);
            let mut q = sqlx::query(&sql);
            for t in &texts {
                q = q.bind(t.clone());
            }
            for i in &ints {
                q = q.bind(*i);
            }
            let rows = q.bind(f.limit).fetch_all(pool).await?;
            rows.iter()
                .map(|row| -> Result<Order> { Ok(order_from_row!(row)) })
                .collect()
        })
    }

    /// Orders issued in `[from, to)` (the appraisal's evidence).
    pub async fn issued_between(&self, from: i64, to: i64) -> Result<Vec<Order>> {
        let text = format!(
            "SELECT {COLUMNS} FROM supervision_orders WHERE created_at >= ? AND created_at < ? ORDER BY id"
        );
        on_db!(self.db, |pool, sql| {
            let sql = sql(&text);
            let rows = sqlx::query(&sql)
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| -> Result<Order> { Ok(order_from_row!(row)) })
                .collect()
        })
    }
}

impl super::CaseService {
    fn orders(&self) -> OrderStore<'_> {
        OrderStore { db: &self.db }
    }

    /// Issues a supervision order about a case (see [`may_issue`]); the order as stored.
    pub async fn issue_order(
        &self,
        directory: &NodeDirectory<'_>,
        case_id: i64,
        request: &IssueRequest,
        actor: &Actor,
    ) -> Result<Order> {
        let case = self.store.get(case_id).await?;
        if !case.status.is_open() {
            return Err(CaseError::state(
                "case",
                format!(
                    "the case is {}; a finished case takes no orders",
                    case.status.as_str()
                ),
            ));
        }
        let now = self.clock.now();
        let (target, requirement, due_at) = check_issue(directory, request, now)?;
        let issuer = may_issue(actor, &case, &target)?;
        let order = self
            .orders()
            .issue(
                case_id,
                &issuer,
                actor,
                &target.as_string(),
                &requirement,
                due_at,
                now,
            )
            .await?;
        self.announce_order(&order).await;
        Ok(order)
    }

    /// The target answers an open (or overdue) order.
    pub async fn reply_order(&self, id: i64, reply: Option<&str>, actor: &Actor) -> Result<Order> {
        let order = self.order(id).await?;
        may_reply(actor, &order)?;
        let text = check_text("reply", reply, "the reply")?;
        self.step_order(order, &["open"], "replied", actor, &text)
            .await
    }

    /// The issuer closes an order (answered or not).
    pub async fn close_order(&self, id: i64, note: Option<&str>, actor: &Actor) -> Result<Order> {
        let order = self.order(id).await?;
        may_close(actor, &order)?;
        let text = note
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .unwrap_or("督办结束")
            .to_string();
        self.step_order(order, &["open", "replied"], "closed", actor, &text)
            .await
    }

    async fn step_order(
        &self,
        order: Order,
        from: &[&str],
        to: &str,
        actor: &Actor,
        text: &str,
    ) -> Result<Order> {
        let now = self.clock.now();
        match self
            .orders()
            .step(&order, from, to, actor, text, now)
            .await?
        {
            Some(after) => {
                self.announce_order(&after).await;
                Ok(after)
            }
            None => {
                let current = self.order(order.id).await?;
                Err(CaseError::state(
                    "status",
                    format!("the order is {}; it cannot become {to}", current.state(now)),
                ))
            }
        }
    }

    pub async fn order(&self, id: i64) -> Result<Order> {
        self.orders()
            .get(id)
            .await?
            .ok_or(CaseError::OrderNotFound(id))
    }

    pub async fn list_orders(&self, filter: &OrderFilter) -> Result<Vec<Order>> {
        self.orders().list(filter, self.clock.now()).await
    }

    pub async fn orders_between(&self, from: i64, to: i64) -> Result<Vec<Order>> {
        self.orders().issued_between(from, to).await
    }

    /// Tells the stream: the case (read again: its history and flag changed) under the order's
    /// step name.
    async fn announce_order(&self, order: &Order) {
        let kind = match order.status.as_str() {
            "open" => "supervision_order",
            "replied" => "supervision_reply",
            _ => "supervision_close",
        };
        match self.store.get(order.case_id).await {
            Ok(case) => self.publish(kind, &case),
            Err(e) => tracing::warn!(
                "case {} of order {} unreadable: {e}",
                order.case_id,
                order.id
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(status: &str, due_at: i64, replied_at: Option<i64>) -> Order {
        Order {
            id: 1,
            case_id: 1,
            issuer: "district".into(),
            issued_by: "d".into(),
            target: "unit:U".into(),
            requirement: "r".into(),
            due_at,
            status: status.into(),
            reply: None,
            replied_by: None,
            replied_at,
            closed_at: None,
            created_at: 0,
            version: 0,
        }
    }

    #[test]
    fn an_open_order_past_its_due_time_is_overdue() {
        assert_eq!(order("open", 10, None).state(10), "open");
        assert_eq!(order("open", 10, None).state(11), "overdue");
        assert_eq!(order("replied", 10, Some(12)).state(20), "replied");
        assert_eq!(
            order("replied", 10, Some(12)).answered_on_time(),
            Some(false)
        );
        assert_eq!(
            order("replied", 10, Some(10)).answered_on_time(),
            Some(true)
        );
        assert_eq!(order("open", 10, None).answered_on_time(), None);
    }
}
