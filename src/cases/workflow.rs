//! The case workflow as one explicit table: which action moves which status where, and who may
//! take it. Everything else (HTTP, storage, the web page's buttons) asks this module.

use super::model::{Action, Actor, Case, Role, Status};
use super::network::{Node, town_queue};

/// The status an action leads to from `from`, or `None` when the action is illegal there.
///
/// `extend`, `supervise` and `publish` keep the status (they move the deadline, set the 督办
/// flag, or decide what the public sees). `publish` is legal in every status: a note for the
/// public is as useful on a closed or rejected case as on an open one.
pub fn next(from: Status, action: Action) -> Option<Status> {
    use Action as A;
    use Status as S;
    match (action, from) {
        (A::File, S::Reported) => Some(S::Filed),
        (A::Reject, S::Reported | S::Filed | S::Returned) => Some(S::Rejected),
        (A::Dispatch, S::Filed | S::Returned) => Some(S::Dispatched),
        (A::Start, S::Dispatched | S::Reopened) => Some(S::InProgress),
        (A::Feedback, S::Dispatched | S::InProgress | S::Reopened) => Some(S::Handled),
        (A::VerifyOk, S::Handled) => Some(S::Verifying),
        (A::VerifyFail, S::Handled | S::Verifying) => Some(S::Reopened),
        (A::Return, S::Dispatched | S::InProgress) => Some(S::Returned),
        (A::Extend, S::Dispatched | S::InProgress | S::Reopened) => Some(from),
        (A::Suspend, S::Dispatched | S::InProgress | S::Reopened) => Some(S::Suspended),
        (A::Resume, S::Suspended) => Some(S::InProgress),
        (A::Supervise, s) if s.is_open() && s != S::Reported => Some(s),
        (A::Close, S::Verifying) => Some(S::Closed),
        (A::Publish, s) => Some(s),
        // Moving a case between queues keeps its status; a finished case stays where it is.
        (A::PassUp | A::HandDown, s) if s.is_open() => Some(s),
        // The call-back records what the citizen said; the service may then reopen or close.
        (A::Callback, S::Handled | S::Verifying) => Some(from),
        _ => None,
    }
}

/// Roles allowed to take an action at all (ownership is checked separately).
pub fn roles(action: Action) -> &'static [Role] {
    use Action as A;
    use Role as R;
    match action {
        A::Report => &[
            R::Anonymous,
            R::Dispatcher,
            R::Unit,
            R::Supervisor,
            R::Admin,
        ],
        A::File | A::Reject | A::Dispatch | A::Suspend | A::Resume | A::Close | A::Publish => {
            &[R::Dispatcher, R::Admin]
        }
        A::Start | A::Feedback | A::Return => &[R::Unit, R::Admin],
        A::Extend => &[R::Unit, R::Dispatcher, R::Admin],
        A::VerifyOk | A::VerifyFail => &[R::Supervisor, R::Admin],
        A::Supervise => &[R::Supervisor, R::Admin],
        A::PassUp | A::HandDown => &[R::Dispatcher, R::Admin],
        A::Callback => &[R::Dispatcher, R::Supervisor, R::Admin],
        A::Overdue => &[],
    }
}

/// Why an actor may not take an action on a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Anonymous callers must authenticate first (401).
    NeedsKey,
    /// The role never takes this action (403).
    Role { allowed: Vec<&'static str> },
    /// A unit key acting on another unit's case (403).
    NotYourCase { unit: Option<String> },
    /// Acting outside the actor's node of the network (403): `rule` is `not_your_town`,
    /// `not_your_queue` or `not_your_village`.
    Node { rule: &'static str, message: String },
    /// Illegal in the case's current status (409).
    Status {
        status: Status,
        allowed: Vec<&'static str>,
    },
}

/// A `unit` key acts only on cases assigned to its unit; other roles are not bound to one.
fn owns(actor: &Actor, case: &Case) -> bool {
    actor.role != Role::Unit || (actor.unit.is_some() && actor.unit == case.unit)
}

/// The node rule: the district centre acts on every case; a sub-centre only on the cases in
/// its own queue (and never hands down); a workstation only in its own village; a command
/// body only on its own affairs class's cases. (Units are bound by [`owns`].)
fn within_node(actor: &Actor, case: &Case, action: Action) -> Result<(), Refusal> {
    let refuse = |rule: &'static str, message: String| Err(Refusal::Node { rule, message });
    match actor.effective_node() {
        Node::District | Node::Unit(_) => Ok(()),
        Node::Town(town) => {
            let queue = town_queue(&town);
            if action == Action::HandDown {
                return refuse(
                    "not_your_queue",
                    "only the district centre hands cases down".into(),
                );
            }
            if case.queue == queue {
                Ok(())
            } else if case.town.as_deref() != Some(town.as_str()) {
                refuse(
                    "not_your_town",
                    format!(
                        "this case is in town {}, not in yours ({town})",
                        case.town.as_deref().unwrap_or("none")
                    ),
                )
            } else {
                refuse(
                    "not_your_queue",
                    format!("this case is in the {} queue, not in yours", case.queue),
                )
            }
        }
        Node::Village(village) => {
            if case.village.as_deref() == Some(village.as_str()) {
                Ok(())
            } else {
                refuse(
                    "not_your_village",
                    format!(
                        "this case is in village {}, not in yours ({village})",
                        case.village.as_deref().unwrap_or("none")
                    ),
                )
            }
        }
        Node::Command(body) => {
            if matches!(action, Action::PassUp | Action::HandDown) {
                refuse(
                    "not_your_queue",
                    "a command body does not move cases between the territorial queues".into(),
                )
            } else if case.command.as_deref() == Some(body.as_str()) {
                Ok(())
            } else {
                refuse(
                    "not_your_queue",
                    format!(
                        "this case belongs to command body {}, not to {body}",
                        case.command.as_deref().unwrap_or("none")
                    ),
                )
            }
        }
    }
}

/// May the actor take the action on the case now? Permission first, then the status.
pub fn check(actor: &Actor, case: &Case, action: Action) -> Result<Status, Refusal> {
    let allowed_roles = roles(action);
    if !allowed_roles.contains(&actor.role) {
        return Err(if actor.role == Role::Anonymous {
            Refusal::NeedsKey
        } else {
            Refusal::Role {
                allowed: allowed_roles.iter().map(|r| r.as_str()).collect(),
            }
        });
    }
    if !owns(actor, case) {
        return Err(Refusal::NotYourCase {
            unit: case.unit.clone(),
        });
    }
    within_node(actor, case, action)?;
    next(case.status, action).ok_or_else(|| Refusal::Status {
        status: case.status,
        allowed: legal(case.status).iter().map(|a| a.as_str()).collect(),
    })
}

/// Every action legal in a status, whoever takes it.
pub fn legal(status: Status) -> Vec<Action> {
    Action::REQUESTABLE
        .into_iter()
        .filter(|&a| next(status, a).is_some())
        .collect()
}

/// The actions this actor may take on this case now (the web page's buttons).
pub fn available(actor: &Actor, case: &Case) -> Vec<Action> {
    Action::REQUESTABLE
        .into_iter()
        .chain(Action::NETWORK)
        .filter(|&a| match a {
            // Only a sub-centre's case goes up, only the district's comes down.
            Action::PassUp => case.queue != super::network::DISTRICT,
            Action::HandDown => case.queue == super::network::DISTRICT && case.town.is_some(),
            _ => true,
        })
        .filter(|&a| check(actor, case, a).is_ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_main_line_runs_from_report_to_close() {
        let steps = [
            (Action::File, Status::Filed),
            (Action::Dispatch, Status::Dispatched),
            (Action::Start, Status::InProgress),
            (Action::Feedback, Status::Handled),
            (Action::VerifyOk, Status::Verifying),
            (Action::Close, Status::Closed),
        ];
        let mut status = Status::Reported;
        for (action, expected) in steps {
            status = next(status, action).unwrap();
            assert_eq!(status, expected);
        }
        // A finished case only takes a note for the public.
        assert_eq!(legal(Status::Closed), [Action::Publish]);
        assert_eq!(legal(Status::Rejected), [Action::Publish]);
    }

    #[test]
    fn every_open_status_has_a_way_forward() {
        for status in Status::ALL.into_iter().filter(|s| s.is_open()) {
            let moves: Vec<Action> = legal(status)
                .into_iter()
                .filter(|&a| next(status, a) != Some(status))
                .collect();
            assert!(!moves.is_empty(), "{status:?} is a dead end");
        }
    }

    #[test]
    fn publishing_never_moves_a_case_and_only_dispatchers_do_it() {
        for status in Status::ALL {
            assert_eq!(next(status, Action::Publish), Some(status));
        }
        assert_eq!(roles(Action::Publish), [Role::Dispatcher, Role::Admin]);
    }

    #[test]
    fn a_failed_check_sends_the_case_back_to_the_unit() {
        assert_eq!(
            next(Status::Handled, Action::VerifyFail),
            Some(Status::Reopened)
        );
        assert_eq!(
            next(Status::Reopened, Action::Feedback),
            Some(Status::Handled)
        );
        assert_eq!(next(Status::Handled, Action::Close), None);
    }
}
