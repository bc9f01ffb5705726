//! Group commit for new cases: reports queue up while the previous transaction commits, and the
//! next transaction stores all of them at once. Each caller is answered only after the commit
//! that holds its case returned, so a 2xx still means "on disk" — the fsync is shared, not
//! skipped. This is what lets one SQLite file take thousands of durable reports a second.

use super::error::{CaseError, Result};
use super::model::NewCase;
use super::store::CaseStore;
use tokio::sync::{mpsc, oneshot};

/// Most cases in one transaction.
const MAX_BATCH: usize = 512;

type Reply = oneshot::Sender<std::result::Result<i64, String>>;

#[derive(Debug, Clone)]
pub struct Intake {
    queue: mpsc::Sender<(NewCase, Reply)>,
}

impl Intake {
    /// Starts the writer task on the current runtime.
    pub fn start(db: CaseStore) -> Intake {
        let (queue, mut incoming) = mpsc::channel::<(NewCase, Reply)>(4 * MAX_BATCH);
        tokio::spawn(async move {
            let mut batch: Vec<(NewCase, Reply)> = Vec::with_capacity(MAX_BATCH);
            while incoming.recv_many(&mut batch, MAX_BATCH).await > 0 {
                let (cases, replies): (Vec<NewCase>, Vec<Reply>) = batch.drain(..).unzip();
                let started = std::time::Instant::now();
                let stored = db.insert_cases(&cases).await;
                metrics::histogram!("gridlink_intake_batch_size").record(cases.len() as f64);
                metrics::histogram!("gridlink_intake_commit_seconds")
                    .record(started.elapsed().as_secs_f64());
                match stored {
                    Ok(ids) => {
                        for (reply, id) in replies.into_iter().zip(ids) {
                            let _ = reply.send(Ok(id));
                        }
                    }
                    Err(e) => {
                        tracing::error!("storing {} new cases failed: {e}", cases.len());
                        let message = e.to_string();
                        for reply in replies {
                            let _ = reply.send(Err(message.clone()));
                        }
                    }
                }
            }
        });
        Intake { queue }
    }

    /// Stores one case; returns its id once it is committed.
    pub async fn submit(&self, case: NewCase) -> Result<i64> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((case, reply))
            .await
            .map_err(|_| CaseError::IntakeClosed)?;
        match answer.await {
            Ok(Ok(id)) => Ok(id),
            Ok(Err(message)) => Err(CaseError::Storage(message)),
            Err(_) => Err(CaseError::IntakeClosed),
        }
    }
}
