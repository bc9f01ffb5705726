//! Who may do what to an incident or a task, and from which state: two tables in the manner of
//! the case workflow, asked by the service, the API's error bodies and the page's buttons.

use super::model::{IncidentStatus, Task, TaskStatus};
use crate::cases::{Actor, Role};
use serde::{Deserialize, Serialize};

/// The duty room's roles: they open, confirm, dismiss, change levels, close and assign.
pub const DUTY: [Role; 3] = [Role::Dispatcher, Role::Supervisor, Role::Admin];

/// What a duty officer does to an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentAction {
    Confirm,
    Dismiss,
    Raise,
    Lower,
    Close,
}

impl IncidentAction {
    pub const ALL: [IncidentAction; 5] = [
        IncidentAction::Confirm,
        IncidentAction::Dismiss,
        IncidentAction::Raise,
        IncidentAction::Lower,
        IncidentAction::Close,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentAction::Confirm => "confirm",
            IncidentAction::Dismiss => "dismiss",
            IncidentAction::Raise => "raise",
            IncidentAction::Lower => "lower",
            IncidentAction::Close => "close",
        }
    }

    pub fn parse(s: &str) -> Option<IncidentAction> {
        IncidentAction::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The status after the action from `from`, or `None` when it is not allowed there.
    pub fn next(self, from: IncidentStatus) -> Option<IncidentStatus> {
        use IncidentAction as A;
        use IncidentStatus as S;
        match (self, from) {
            (A::Confirm, S::Proposed) => Some(S::Active),
            (A::Dismiss, S::Proposed) => Some(S::Dismissed),
            (A::Raise | A::Lower, S::Proposed | S::Active) => Some(from),
            (A::Close, S::Active) => Some(S::Closed),
            _ => None,
        }
    }

    /// The actions allowed from `from`.
    pub fn allowed(from: IncidentStatus) -> Vec<&'static str> {
        IncidentAction::ALL
            .into_iter()
            .filter(|a| a.next(from).is_some())
            .map(IncidentAction::as_str)
            .collect()
    }
}

/// What is done to a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskAction {
    Acknowledge,
    Start,
    Done,
    Refuse,
    /// Book a standby team for a team task (duty room).
    Assign,
    /// Draw stock from a depot for a depot task (duty room).
    Draw,
}

impl TaskAction {
    pub const ALL: [TaskAction; 6] = [
        TaskAction::Acknowledge,
        TaskAction::Start,
        TaskAction::Done,
        TaskAction::Refuse,
        TaskAction::Assign,
        TaskAction::Draw,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskAction::Acknowledge => "acknowledge",
            TaskAction::Start => "start",
            TaskAction::Done => "done",
            TaskAction::Refuse => "refuse",
            TaskAction::Assign => "assign",
            TaskAction::Draw => "draw",
        }
    }

    pub fn parse(s: &str) -> Option<TaskAction> {
        TaskAction::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The status after the action from `from`, or `None` when it is not allowed there.
    pub fn next(self, from: TaskStatus) -> Option<TaskStatus> {
        use TaskAction as A;
        use TaskStatus as S;
        match (self, from) {
            (A::Acknowledge, S::Assigned) => Some(S::Acknowledged),
            (A::Start, S::Assigned | S::Acknowledged) => Some(S::Started),
            (A::Done, S::Acknowledged | S::Started) => Some(S::Done),
            (A::Refuse, S::Assigned | S::Acknowledged) => Some(S::Refused),
            (A::Assign | A::Draw, S::Assigned | S::Acknowledged | S::Started) => Some(from),
            _ => None,
        }
    }

    pub fn allowed(from: TaskStatus) -> Vec<&'static str> {
        TaskAction::ALL
            .into_iter()
            .filter(|a| a.next(from).is_some())
            .map(TaskAction::as_str)
            .collect()
    }
}

/// Why an actor may not act.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NeedsKey,
    Role {
        allowed: Vec<&'static str>,
    },
    /// A unit key acting on another unit's task (or on a team or depot task).
    NotYourTask {
        unit: Option<String>,
    },
}

fn duty_names() -> Vec<&'static str> {
    DUTY.iter().map(|r| r.as_str()).collect()
}

/// May `actor` take incident actions (open, confirm, dismiss, levels, close, add tasks)?
pub fn check_duty(actor: &Actor) -> Result<(), Refusal> {
    if !actor.is_staff() {
        return Err(Refusal::NeedsKey);
    }
    if DUTY.contains(&actor.role) {
        Ok(())
    } else {
        Err(Refusal::Role {
            allowed: duty_names(),
        })
    }
}

/// May `actor` take `action` on `task`? The duty room may do anything (recording a team's or
/// a depot's report); a unit key only acknowledge, start, finish or refuse its own unit's.
pub fn check_task(actor: &Actor, action: TaskAction, task: &Task) -> Result<(), Refusal> {
    if !actor.is_staff() {
        return Err(Refusal::NeedsKey);
    }
    if DUTY.contains(&actor.role) {
        return Ok(());
    }
    if actor.role != Role::Unit || matches!(action, TaskAction::Assign | TaskAction::Draw) {
        return Err(Refusal::Role {
            allowed: duty_names(),
        });
    }
    if task.unit.is_some() && task.unit == actor.unit {
        Ok(())
    } else {
        Err(Refusal::NotYourTask {
            unit: task.unit.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proposal_is_confirmed_or_dismissed_and_only_an_active_incident_closes() {
        use IncidentStatus as S;
        assert_eq!(IncidentAction::Confirm.next(S::Proposed), Some(S::Active));
        assert_eq!(
            IncidentAction::Dismiss.next(S::Proposed),
            Some(S::Dismissed)
        );
        assert_eq!(IncidentAction::Close.next(S::Proposed), None);
        assert_eq!(IncidentAction::Close.next(S::Active), Some(S::Closed));
        assert_eq!(IncidentAction::Confirm.next(S::Active), None);
        for a in IncidentAction::ALL {
            assert_eq!(a.next(S::Closed), None);
            assert_eq!(a.next(S::Dismissed), None);
            assert_eq!(IncidentAction::parse(a.as_str()), Some(a));
        }
        assert_eq!(
            IncidentAction::allowed(S::Active),
            ["raise", "lower", "close"]
        );
    }

    #[test]
    fn tasks_move_forward_only_and_finished_tasks_take_nothing() {
        use TaskStatus as S;
        assert_eq!(
            TaskAction::Acknowledge.next(S::Assigned),
            Some(S::Acknowledged)
        );
        assert_eq!(TaskAction::Done.next(S::Assigned), None);
        assert_eq!(TaskAction::Done.next(S::Started), Some(S::Done));
        assert_eq!(TaskAction::Refuse.next(S::Started), None);
        for a in TaskAction::ALL {
            assert_eq!(a.next(S::Done), None);
            assert_eq!(a.next(S::Refused), None);
        }
    }
}
