//! Passive checks (`observe`): servers that reached `error-limit` consecutive errors on this
//! shard's live traffic, handed to the coordinator as "Health analyze" results.

use super::{CheckReport, HealthSink};
use crate::proxy::Worker;
use crate::state::{CheckDetail, CheckStatus};
use std::rc::Rc;

/// Sends each server that reached its `error-limit` on this shard's live traffic to the
/// coordinator as a "Health analyze" result.
pub(super) async fn forward_passive_reports<S: HealthSink>(worker: Rc<Worker>, sink: Rc<S>) {
    let Some(reports) = worker.observer.take_reports() else {
        return;
    };
    while let Some(server) = reports.recv().await {
        log::debug!(
            "shard {}: observe error limit reached on {server:?}",
            worker.shard
        );
        sink.report(CheckReport {
            server,
            status: CheckStatus::Hana,
            detail: CheckDetail::default(),
        })
        .await;
    }
}
