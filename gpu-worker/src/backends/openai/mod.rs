//! The remote backend: OpenAI's video API (create, poll, download), its MP4
//! decoded and pushed through the sink so the pipeline's watermark, encoder
//! and manifest apply to remote clips exactly as to local ones.

mod api;
pub mod audio;
mod multipart;
mod reference;
mod settings;

use std::time::Instant;

use serde_json::json;

pub use settings::{
    DEFAULT_BASE_URL, DEFAULT_MODEL, OpenAiSettings, provider_dimensions, provider_seconds,
    provider_size,
};

use crate::frame::Soundtrack;
use crate::log::worker_event;
use crate::model::{FrameSink, JobControl, ModelError, Stage, VideoModel};
use crate::spec::GenerationSpec;
use api::Api;

/// Generates clips with a hosted OpenAI video model.
#[derive(Debug, Clone)]
pub struct OpenAiModel {
    settings: OpenAiSettings,
}

impl OpenAiModel {
    /// The name configuration uses for this backend.
    pub const NAME: &'static str = "openai";

    /// A backend with these settings.
    pub fn new(settings: OpenAiSettings) -> Self {
        OpenAiModel { settings }
    }

    /// Create → poll → download. A job cancelled or abandoned after it was
    /// created is deleted at the provider, which stops it.
    async fn fetch(
        &self,
        spec: &GenerationSpec,
        control: &JobControl<'_>,
    ) -> Result<(String, bytes::Bytes), ModelError> {
        let api = Api::new(&self.settings, control)?;
        control.checkpoint()?;
        let video = api.create(spec).await?;
        let id = video.id.clone();
        let outcome = self.follow(&api, video, control).await;
        let abandoned = matches!(outcome, Err(ModelError::Cancelled))
            || control.is_cancelled()
            || is_timeout(&outcome);
        if abandoned && let Err(e) = api.delete(&id).await {
            worker_event(
                "warn",
                "could not delete the abandoned provider job",
                json!({"video_id": id, "error": e.to_string()}),
            );
        }
        outcome.map(|file| (id, file))
    }

    async fn follow(
        &self,
        api: &Api<'_>,
        mut video: api::Video,
        control: &JobControl<'_>,
    ) -> Result<bytes::Bytes, ModelError> {
        let deadline = Instant::now() + self.settings.max_wait;
        loop {
            match video.status.as_str() {
                "completed" => break,
                "failed" => {
                    let error = video.error.unwrap_or_default();
                    let detail = format!("the provider failed the job: {}", error.describe());
                    return Err(if error.is_policy() {
                        ModelError::ContentRefused(detail)
                    } else {
                        ModelError::Transient(detail)
                    });
                }
                "queued" | "in_progress" => {
                    let percent = video.progress.unwrap_or(0.0).clamp(0.0, 100.0);
                    control.report(Stage::Generating, percent as u32, 100);
                }
                other => {
                    return Err(ModelError::Transient(format!(
                        "the provider reports an unknown status {:?}",
                        other.chars().take(40).collect::<String>()
                    )));
                }
            }
            if Instant::now() >= deadline {
                return Err(ModelError::Transient(format!(
                    "{TIMEOUT} ({} s)",
                    self.settings.max_wait.as_secs()
                )));
            }
            api.nap(self.settings.poll_interval).await?;
            video = api.retrieve(&video.id).await?;
        }
        control.report(Stage::Generating, 100, 100);
        let file = api.download(&video.id).await?;
        control.checkpoint()?;
        Ok(file)
    }
}

const TIMEOUT: &str = "the provider did not finish in time";

fn is_timeout<T>(outcome: &Result<T, ModelError>) -> bool {
    matches!(outcome, Err(ModelError::Transient(m)) if m.starts_with(TIMEOUT))
}

impl VideoModel for OpenAiModel {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn generate(
        &self,
        spec: &GenerationSpec,
        sink: &mut dyn FrameSink,
        control: &JobControl<'_>,
    ) -> Result<Soundtrack, ModelError> {
        // `generate` runs on a blocking thread; the HTTP calls get their own
        // small runtime there, so the worker's runtime is never blocked on.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ModelError::Backend(e.into()))?;
        let (id, file) = runtime.block_on(self.fetch(spec, control))?;
        drop(runtime);
        let sound = crate::media::decode::push_frames(&file, spec, sink, control)?;
        control.checkpoint()?;
        // The provider's own sound when it decodes; otherwise the clip is
        // still worth having, scored by the local synthesiser.
        let why = match sound {
            None => "the provider's file has no sound track".to_owned(),
            Some(Err(e)) => e.to_string(),
            Some(Ok(track)) => match audio::soundtrack(&file, &track, spec, control) {
                Ok(soundtrack) => return Ok(soundtrack),
                Err(audio::AudioError::Cancelled) => return Err(ModelError::Cancelled),
                Err(audio::AudioError::Undecodable(e)) => e,
            },
        };
        worker_event(
            "warn",
            "remote clip scored by the local soundtrack synthesiser",
            json!({"video_id": id, "reason": why, "bytes": file.len()}),
        );
        Ok(super::local::soundtrack(spec))
    }
}
