//! Caption embeddings: the studio writes each published caption to
//! `captions/{video_id}.json`; the worker embeds it with the model it runs
//! for prompts (all-MiniLM-L6-v2) and posts the vector to the edge's signed
//! `/internal/videos/{id}/caption-embedding`. The object is deleted once the
//! edge has it, or once the edge says it never will (video gone, caption
//! changed); anything else leaves it in the bucket, where a later delivery
//! (the local stack's start-up re-announce) finds it again.

use dreamreel_core::jobs::Quantized;
use dreamreel_core::jobs::caption::{CaptionEmbedding, CaptionJob, MAX_CAPTION_JOB_BYTES};
use serde_json::json;

use crate::callback::CaptionAnswer;
use crate::event::CaptionRef;
use crate::log::worker_event;
use crate::pipeline::Worker;
use crate::storage::StorageError;

/// How one caption job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptionOutcome {
    /// The edge stored the embedding; the object was deleted.
    Stored,
    /// The edge will never want it, or the object is no caption job; deleted.
    Dropped(String),
    /// The object is already gone (a repeated delivery).
    Gone,
    /// Left in the bucket: this worker runs no embedding model. A worker
    /// that does finds it on a later delivery.
    NoModel,
    /// Left in the bucket for a redelivery: storage or the edge could not be
    /// reached.
    Left(String),
}

impl Worker {
    /// Embeds the caption `caption` names and reports it to the edge.
    pub async fn embed_caption(&self, caption: &CaptionRef) -> CaptionOutcome {
        let outcome = self.caption_outcome(caption).await;
        let (level, what) = match &outcome {
            CaptionOutcome::Stored => ("info", "caption embedded"),
            CaptionOutcome::Dropped(_) => ("warn", "caption job dropped"),
            CaptionOutcome::Gone => ("info", "caption job already done"),
            CaptionOutcome::NoModel => (
                "warn",
                "caption job left: no embedding model configured (DREAMREEL_EMBEDDING_MODEL)",
            ),
            CaptionOutcome::Left(_) => ("warn", "caption job left for a later delivery"),
        };
        worker_event(
            level,
            what,
            json!({ "video_id": caption.video_id, "outcome": format!("{outcome:?}") }),
        );
        outcome
    }

    async fn caption_outcome(&self, caption: &CaptionRef) -> CaptionOutcome {
        let Some(check) = self.semantic().cloned() else {
            return CaptionOutcome::NoModel;
        };
        let job = match self
            .storage()
            .get(&caption.key, MAX_CAPTION_JOB_BYTES)
            .await
        {
            Ok(Some(bytes)) => serde_json::from_slice::<CaptionJob>(&bytes)
                .ok()
                .filter(|j| j.video_id == caption.video_id && !j.caption.is_empty()),
            Ok(None) => return CaptionOutcome::Gone,
            Err(StorageError::TooLarge { .. }) => None,
            Err(e) => return CaptionOutcome::Left(e.to_string()),
        };
        let Some(job) = job else {
            return self
                .finish(caption, CaptionOutcome::Dropped("not a caption job".into()))
                .await;
        };
        let text = job.caption.clone();
        // CPU work: off the async threads, like the prompt check.
        let vector = match tokio::task::spawn_blocking(move || check.embedder().embed(&text)).await
        {
            Ok(v) => v,
            Err(e) => return CaptionOutcome::Left(format!("the embedder died: {e}")),
        };
        let Some(q) = Quantized::from_f32(&vector) else {
            return self
                .finish(caption, CaptionOutcome::Dropped("no embedding".into()))
                .await;
        };
        let body = CaptionEmbedding {
            caption: job.caption,
            embedding: q.to_wire(),
        };
        match self.edge().caption_embedding(&job.video_id, &body).await {
            Ok(CaptionAnswer::Stored) => self.finish(caption, CaptionOutcome::Stored).await,
            Ok(CaptionAnswer::Stale) => {
                let stale = CaptionOutcome::Dropped("the edge no longer wants it".into());
                self.finish(caption, stale).await
            }
            Err(e) => CaptionOutcome::Left(e.to_string()),
        }
    }

    /// Deletes the settled job's object. A delete that fails only means the
    /// job is done again later, which the edge takes as a no-op.
    async fn finish(&self, caption: &CaptionRef, outcome: CaptionOutcome) -> CaptionOutcome {
        if let Err(e) = self.storage().delete(&caption.key).await {
            worker_event(
                "warn",
                "caption job not deleted",
                json!({ "key": caption.key, "error": e.to_string() }),
            );
        }
        outcome
    }
}
