//! What a case is: its status, the actions that move it, and the records the store keeps.

use serde::{Deserialize, Serialize};

/// Where a case is in the workflow (DESIGN.md, "Case workflow").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Reported,
    Filed,
    Rejected,
    Dispatched,
    InProgress,
    Handled,
    Verifying,
    Closed,
    Returned,
    Suspended,
    Reopened,
}

impl Status {
    pub const ALL: [Status; 11] = [
        Status::Reported,
        Status::Filed,
        Status::Rejected,
        Status::Dispatched,
        Status::InProgress,
        Status::Handled,
        Status::Verifying,
        Status::Closed,
        Status::Returned,
        Status::Suspended,
        Status::Reopened,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Reported => "reported",
            Status::Filed => "filed",
            Status::Rejected => "rejected",
            Status::Dispatched => "dispatched",
            Status::InProgress => "in_progress",
            Status::Handled => "handled",
            Status::Verifying => "verifying",
            Status::Closed => "closed",
            Status::Returned => "returned",
            Status::Suspended => "suspended",
            Status::Reopened => "reopened",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Status::Reported => "已上报",
            Status::Filed => "已立案",
            Status::Rejected => "不予立案",
            Status::Dispatched => "已派遣",
            Status::InProgress => "处置中",
            Status::Handled => "已处置",
            Status::Verifying => "核查通过待结案",
            Status::Closed => "已结案",
            Status::Returned => "已退回",
            Status::Suspended => "挂账",
            Status::Reopened => "返工",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Rejected and closed cases are finished; everything else is open (Open311 `open`).
    pub fn is_open(self) -> bool {
        !Status::FINISHED.contains(&self)
    }

    pub const FINISHED: [Status; 2] = [Status::Rejected, Status::Closed];

    /// A unit is on the clock: the deadline applies and can be missed.
    pub fn is_on_clock(self) -> bool {
        Status::ON_CLOCK.contains(&self)
    }

    pub const ON_CLOCK: [Status; 3] = [Status::Dispatched, Status::InProgress, Status::Reopened];

    /// A quoted SQL list of statuses, e.g. `'dispatched', 'in_progress'` (names are fixed
    /// identifiers, never user input).
    pub fn sql_list(statuses: &[Status]) -> String {
        statuses
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What an actor does to a case (`POST /api/cases/{id}/actions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Not requestable: the creating report, recorded as the first event.
    Report,
    File,
    Reject,
    Dispatch,
    Start,
    Feedback,
    VerifyOk,
    VerifyFail,
    Return,
    Extend,
    Suspend,
    Resume,
    Supervise,
    Close,
    /// Approve the description and/or photos for the public, or write a note for the public,
    /// without changing the status (a dispatcher's moderation step).
    Publish,
    /// Not requestable: the overdue sweep's mark.
    Overdue,
    /// A sub-centre passes a case in its queue up to the district centre (上报区中心), saying why.
    PassUp,
    /// The district centre hands a case in its queue down to a sub-centre (下派).
    HandDown,
    /// The call-back to the citizen (回访) after the unit's feedback and before closing.
    Callback,
}

impl Action {
    /// Actions a client may ask for, in workflow order.
    pub const REQUESTABLE: [Action; 14] = [
        Action::File,
        Action::Reject,
        Action::Dispatch,
        Action::Start,
        Action::Feedback,
        Action::VerifyOk,
        Action::VerifyFail,
        Action::Return,
        Action::Extend,
        Action::Suspend,
        Action::Resume,
        Action::Supervise,
        Action::Close,
        Action::Publish,
    ];

    /// The linkage network's actions: requestable like the others, listed apart so the
    /// workflow table of [`Action::REQUESTABLE`] reads as it always did.
    pub const NETWORK: [Action; 3] = [Action::PassUp, Action::HandDown, Action::Callback];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::PassUp => "pass_up",
            Action::HandDown => "hand_down",
            Action::Callback => "callback",
            Action::Report => "report",
            Action::File => "file",
            Action::Reject => "reject",
            Action::Dispatch => "dispatch",
            Action::Start => "start",
            Action::Feedback => "feedback",
            Action::VerifyOk => "verify_ok",
            Action::VerifyFail => "verify_fail",
            Action::Return => "return",
            Action::Extend => "extend",
            Action::Suspend => "suspend",
            Action::Resume => "resume",
            Action::Supervise => "supervise",
            Action::Close => "close",
            Action::Publish => "publish",
            Action::Overdue => "overdue",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Action::Report => "上报",
            Action::File => "立案",
            Action::Reject => "不予立案",
            Action::Dispatch => "派遣",
            Action::Start => "开始处置",
            Action::Feedback => "处置反馈",
            Action::VerifyOk => "核查通过",
            Action::VerifyFail => "核查不通过",
            Action::Return => "退回",
            Action::Extend => "延期",
            Action::Suspend => "挂账",
            Action::Resume => "恢复处置",
            Action::Supervise => "督办",
            Action::Close => "结案",
            Action::Publish => "公开发布",
            Action::Overdue => "超期",
            Action::PassUp => "上报区中心",
            Action::HandDown => "下派",
            Action::Callback => "回访",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Action::REQUESTABLE
            .into_iter()
            .chain(Action::NETWORK)
            .find(|a| a.as_str() == s)
    }
}

/// Who acts: the role of the API key (or anonymous, who may only report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Anonymous,
    Dispatcher,
    Unit,
    Supervisor,
    Admin,
}

impl Role {
    pub const KEYED: [Role; 4] = [Role::Dispatcher, Role::Unit, Role::Supervisor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Anonymous => "anonymous",
            Role::Dispatcher => "dispatcher",
            Role::Unit => "unit",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        [Role::Anonymous]
            .into_iter()
            .chain(Role::KEYED)
            .find(|r| r.as_str() == s)
    }
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub role: Role,
    /// The handling unit a `unit` key is bound to.
    pub unit: Option<String>,
    /// Shown in the history: key label or prefix, `anonymous`, `open311:…`.
    pub name: String,
    /// The node of the linkage network the key is bound to; `None` is the district centre
    /// (keys from before the network, and anonymous callers, who only report).
    pub node: Option<super::network::Node>,
}

impl Actor {
    pub fn anonymous() -> Actor {
        Actor {
            role: Role::Anonymous,
            unit: None,
            name: "anonymous".into(),
            node: None,
        }
    }

    /// The node the actor works for: a unit key is its unit, a key bound to nothing the
    /// district centre.
    pub fn effective_node(&self) -> super::network::Node {
        use super::network::Node;
        match (&self.node, &self.unit) {
            (Some(node), _) => node.clone(),
            (None, Some(unit)) if self.role == Role::Unit => Node::Unit(unit.clone()),
            (None, _) => Node::District,
        }
    }

    pub fn is_staff(&self) -> bool {
        self.role != Role::Anonymous
    }
}

/// A report as accepted, located and about to be stored.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub class: String,
    pub urgency: String,
    pub channel: String,
    pub description: String,
    pub photos: Vec<String>,
    pub address: Option<String>,
    pub reporter: Option<String>,
    pub lon: f64,
    pub lat: f64,
    pub cell: Option<String>,
    pub village: Option<String>,
    pub town: Option<String>,
    pub ambiguous: bool,
    /// The unit routing proposes (the dispatcher may override it when dispatching).
    pub unit: Option<String>,
    pub unit_basis: Option<String>,
    pub reported_at: i64,
    pub actor: Actor,
    /// Reported by the public (no key) through a public channel: may be listed if its class is
    /// public (see `cases::public_view`).
    pub public_report: bool,
    /// SHA-256 of the reporter's tracking token (only citizens' reports get one).
    pub track_hash: Option<String>,
    /// Uploaded photos to link to the case (their files are already stored).
    pub uploads: Vec<crate::photos::PhotoInfo>,
    /// The id a phone gave the report in its offline queue (unique: a repeat is not stored).
    pub client_id: Option<String>,
    /// The queue it lands in (`district` or `town:CODE`), also its first receiver (首接).
    pub queue: String,
    /// The command body of its affairs class.
    pub command: Option<String>,
}

/// A stored case (times in Unix milliseconds, UTC).
#[derive(Debug, Clone, Serialize)]
pub struct Case {
    pub id: i64,
    pub status: Status,
    pub class: String,
    pub urgency: String,
    pub channel: String,
    pub description: String,
    pub photos: Vec<String>,
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reporter: Option<String>,
    pub lon: f64,
    pub lat: f64,
    pub cell: Option<String>,
    pub village: Option<String>,
    pub town: Option<String>,
    pub ambiguous: bool,
    pub unit: Option<String>,
    pub unit_basis: Option<String>,
    pub supervised: bool,
    /// Set by the overdue sweep once the deadline passed with the case on the clock.
    pub overdue_flag: bool,
    pub reported_at: i64,
    pub dispatched_at: Option<i64>,
    pub deadline: Option<i64>,
    pub handled_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub updated_at: i64,
    pub version: i64,
    /// Reported by the public (no key) through a public channel (web, app, Open311).
    pub public_report: bool,
    /// The description as a dispatcher approved it for the public (the reporter's text or a
    /// redacted one); `None` until approved.
    pub public_description: Option<String>,
    /// The report's photos are approved for the public.
    pub photos_public: bool,
    /// SHA-256 of the reporter's tracking token; never shown.
    #[serde(skip)]
    pub track_hash: Option<String>,
    /// The queue it is in: `district` (the district centre's) or `town:CODE` (a sub-centre's).
    pub queue: String,
    /// The command body of its affairs class (`urban`, `emergency`, `police_110`, …).
    pub command: Option<String>,
    /// The first receiver (首接责任制): the queue it landed in when reported.
    pub first_queue: String,
}

impl Case {
    /// Overdue now: on the clock past its deadline, or handled after it.
    pub fn is_overdue(&self, now: i64) -> bool {
        is_overdue(self.status, self.deadline, self.handled_at, now)
    }
}

/// Overdue at `now`: on the clock past the deadline, or handled after it. (The list query's
/// `overdue` filter in `store.rs` says the same in SQL.)
pub fn is_overdue(
    status: Status,
    deadline: Option<i64>,
    handled_at: Option<i64>,
    now: i64,
) -> bool {
    match deadline {
        None => false,
        Some(deadline) if status.is_on_clock() => now > deadline,
        Some(deadline) => handled_at.is_some_and(|h| h > deadline),
    }
}

/// One entry of a case's append-only history.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub id: i64,
    pub case_id: i64,
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub actor: String,
    pub role: String,
    pub unit: Option<String>,
    pub at: i64,
    pub note: Option<String>,
    /// A note written for the public (Open311 `status_notes`, the tracking view); `note` is
    /// internal and never leaves the staff API.
    pub public_note: Option<String>,
    pub photos: Vec<String>,
    pub data: serde_json::Value,
}
