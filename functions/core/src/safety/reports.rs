//! Reports and the moderation queue: anyone reports a video, comment or
//! member with a reason; admins see the open reports and resolve each by
//! dismissing it, taking the content down or restoring it. The resolution
//! is kept on the report (who, what, when) and the content's owner is told.
//!
//! One open report per reporter and target (`report_claim:` claimed by
//! compare-and-swap, freed on resolution); reporters are rate-limited per
//! hour through the shared `rate:` counters.

use serde::{Deserialize, Serialize};

use super::require_admin;
use crate::accounts::profile::user_by_handle;
use crate::accounts::{AccessPolicy, User};
use crate::env::Env;
use crate::error::ApiError;
use crate::ids::new_ulid;
use crate::keys;
use crate::notifications::{Kind, NewNotification, Subject, notify};
use crate::pages::{self, MAX_CAS_TRIES, PagedList, Position, busy};
use crate::social::{Comment, delete_comment};
use crate::store::Store;
use crate::studio::{Video, remove_video};
use crate::time::rfc3339_from_ms;

/// Reports one member may file per hour.
pub const REPORTS_PER_HOUR: u64 = 20;
/// Longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 500;
const HOUR_SECS: u64 = 3600;
const QUEUE_OWNER: &str = "open";
const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 100;
/// The `Removal::reason` of a moderator's takedown.
pub const TAKEN_DOWN: &str = "taken_down";

/// What is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// A published video, by id.
    Video,
    /// A comment or reply, by id.
    Comment,
    /// A member, by handle.
    User,
}

impl TargetKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Video => "video",
            TargetKind::Comment => "comment",
            TargetKind::User => "user",
        }
    }
}

/// Why it is reported (a fixed list, so the queue can be sorted and counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportReason {
    /// Sexual content involving minors.
    ChildSafety,
    /// Sexual content or nudity.
    Sexual,
    /// Graphic violence.
    Violence,
    /// Suicide or self-harm.
    SelfHarm,
    /// Hate speech.
    Hate,
    /// Harassment or bullying.
    Harassment,
    /// Violent extremism.
    Extremism,
    /// Illegal activity.
    Illegal,
    /// Uses someone's likeness or a real person without consent.
    Impersonation,
    /// Infringes copyright or a trademark.
    Copyright,
    /// Spam or scams.
    Spam,
    /// Anything else (say what in the note).
    Other,
}

/// `POST /v1/reports` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewReport {
    /// What kind of thing.
    pub target_type: TargetKind,
    /// Video or comment id, or member handle.
    pub target_id: String,
    /// Why.
    pub reason: ReportReason,
    /// Optional detail for the moderator.
    #[serde(default)]
    pub note: Option<String>,
}

/// What a moderator may do with a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportAction {
    /// Nothing wrong: close it.
    Dismiss,
    /// Remove the video or comment.
    TakeDown,
    /// Bring a taken-down video back.
    Restore,
}

impl ReportAction {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportAction::Dismiss => "dismiss",
            ReportAction::TakeDown => "take_down",
            ReportAction::Restore => "restore",
        }
    }
}

/// `POST /v1/admin/reports/{id}/resolve` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resolve {
    /// What to do.
    pub action: ReportAction,
    /// Why, kept on the report and shown to the owner.
    #[serde(default)]
    pub note: Option<String>,
}

/// How a report was closed: the moderation log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    /// What was done.
    pub action: ReportAction,
    /// The admin (user id).
    pub by: String,
    /// Their note.
    #[serde(default)]
    pub note: Option<String>,
    /// Unix ms.
    pub at_ms: u64,
}

/// A stored report (`report:{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// ULID.
    pub id: String,
    /// Reporter's user id.
    pub reporter: String,
    /// What kind of thing.
    pub target_type: TargetKind,
    /// Video or comment id, or the member's user id.
    pub target_id: String,
    /// The user id of whoever owns the target (maker, author, the member).
    pub owner: String,
    /// Why.
    pub reason: ReportReason,
    /// Reporter's note.
    #[serde(default)]
    pub note: Option<String>,
    /// Unix ms.
    pub created_at_ms: u64,
    /// Queue page holding its id.
    pub page: u64,
    /// Set once resolved.
    #[serde(default)]
    pub resolution: Option<Resolution>,
}

/// A report as the reporter and moderators see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportView {
    /// ULID.
    pub id: String,
    /// `video`, `comment` or `user`.
    pub target_type: TargetKind,
    /// Video or comment id, or the member's user id.
    pub target_id: String,
    /// Owner's user id.
    pub owner_id: String,
    /// Reporter's user id.
    pub reporter_id: String,
    /// Why.
    pub reason: ReportReason,
    /// Reporter's note.
    pub note: Option<String>,
    /// `open` or `resolved`.
    pub status: &'static str,
    /// The action taken, once resolved.
    pub action: Option<ReportAction>,
    /// RFC 3339.
    pub created_at: String,
}

impl Report {
    /// The client view.
    pub fn view(&self) -> ReportView {
        ReportView {
            id: self.id.clone(),
            target_type: self.target_type,
            target_id: self.target_id.clone(),
            owner_id: self.owner.clone(),
            reporter_id: self.reporter.clone(),
            reason: self.reason,
            note: self.note.clone(),
            status: if self.resolution.is_some() {
                "resolved"
            } else {
                "open"
            },
            action: self.resolution.as_ref().map(|r| r.action),
            created_at: rfc3339_from_ms(self.created_at_ms),
        }
    }
}

/// A page of open reports, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportPage {
    /// Reports.
    pub reports: Vec<ReportView>,
    /// Where to go on; `None` at the oldest.
    pub next_cursor: Option<String>,
}

fn queue() -> PagedList<'static> {
    PagedList::new(
        QUEUE_OWNER,
        keys::reports_open_head,
        keys::reports_open_page,
    )
}

fn note(text: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(t) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if t.chars().count() > MAX_NOTE_CHARS || t.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ApiError::invalid_request(format!(
            "note must be at most {MAX_NOTE_CHARS} characters, no control characters"
        )));
    }
    Ok(Some(t.to_owned()))
}

async fn load_comment<S: Store>(store: &S, id: &str) -> Result<Option<Comment>, ApiError> {
    if !crate::studio::validate::is_ulid(id) {
        return Ok(None);
    }
    Ok(store
        .get(&keys::comment(id))
        .await?
        .and_then(|b| serde_json::from_slice(&b).ok()))
}

/// The target's normal id and owner; 404 when it is not there to report.
async fn resolve_target<S: Store>(
    store: &S,
    kind: TargetKind,
    id: &str,
) -> Result<(String, String), ApiError> {
    let id = id.trim();
    match kind {
        TargetKind::Video => {
            let v = crate::studio::get_video(store, id).await?;
            Ok((v.id, v.owner))
        }
        TargetKind::Comment => load_comment(store, id)
            .await?
            .filter(|c| c.deleted_at_ms.is_none())
            .map(|c| (c.id, c.author))
            .ok_or_else(|| ApiError::not_found("no such comment")),
        TargetKind::User => user_by_handle(store, id)
            .await?
            .map(|u| (u.id.clone(), u.id))
            .ok_or_else(|| ApiError::not_found("no member has this handle")),
    }
}

/// A member reports something. 201 with the new report; 409
/// `report_exists` while their earlier report on it is open; 429 past the
/// hourly limit.
pub async fn create_report<S: Store>(
    store: &S,
    env: &dyn Env,
    reporter: &User,
    req: NewReport,
) -> Result<Report, ApiError> {
    let note = note(req.note.as_deref())?;
    let (target_id, owner) = resolve_target(store, req.target_type, &req.target_id).await?;
    if owner == reporter.id {
        return Err(ApiError::invalid_request(
            "you cannot report yourself or your own content",
        ));
    }
    let now = env.now_ms();
    let id = new_ulid(env);
    let claim = keys::report_claim(&reporter.id, req.target_type.as_str(), &target_id);
    if !store.compare_and_swap(&claim, None, id.as_bytes()).await? {
        return Err(ApiError::conflict(
            "report_exists",
            "you already reported this; a moderator will look at it",
        ));
    }
    let window = now / 1000 / HOUR_SECS;
    let count = store
        .increment(&keys::rate("report", &reporter.id, window), 1)
        .await;
    match count {
        Ok(n) if n > 0 && n as u64 <= REPORTS_PER_HOUR => {}
        other => {
            let _ = store.delete(&claim).await;
            other?;
            let retry = (window + 1) * HOUR_SECS - now / 1000;
            return Err(crate::accounts::ratelimit::rate_limited(retry));
        }
    }
    let page = match pages::append(store, &queue(), &id, false).await {
        Ok(page) => page,
        Err(e) => {
            let _ = store.delete(&claim).await;
            return Err(e);
        }
    };
    let report = Report {
        id: id.clone(),
        reporter: reporter.id.clone(),
        target_type: req.target_type,
        target_id,
        owner,
        reason: req.reason,
        note,
        created_at_ms: now,
        page,
        resolution: None,
    };
    if let Err(e) = store.set(&keys::report(&id), &encode(&report)).await {
        let _ = pages::remove(store, &queue(), page, &id).await;
        let _ = store.delete(&claim).await;
        return Err(e.into());
    }
    Ok(report)
}

fn encode(report: &Report) -> Vec<u8> {
    serde_json::to_vec(report).expect("a report serialises")
}

/// An admin reads the open reports, newest first.
pub async fn list_reports<S: Store>(
    store: &S,
    policy: &AccessPolicy,
    admin: &User,
    cursor: Option<&str>,
    limit: Option<usize>,
) -> Result<ReportPage, ApiError> {
    require_admin(policy, admin)?;
    let limit = limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let from = cursor.map(Position::decode).transpose()?;
    let (ids, next) = pages::read_newest_first(store, &queue(), from, limit, 8).await?;
    let keys: Vec<String> = ids.iter().map(|id| keys::report(id)).collect();
    let reports = store
        .get_many(&keys)
        .await?
        .into_iter()
        .flatten()
        .filter_map(|b| serde_json::from_slice::<Report>(&b).ok())
        .filter(|r| r.resolution.is_none())
        .map(|r| r.view())
        .collect();
    Ok(ReportPage {
        reports,
        next_cursor: next.map(|p| p.encode()),
    })
}

/// An admin resolves an open report: the action is applied to the target,
/// recorded on the report, and the owner told (for a takedown or a restore).
/// 409 `report_resolved` when it is closed already; 422
/// `action_not_supported` for an action the target cannot take.
pub async fn resolve_report<S: Store>(
    store: &S,
    env: &dyn Env,
    policy: &AccessPolicy,
    admin: &User,
    id: &str,
    req: Resolve,
) -> Result<Report, ApiError> {
    require_admin(policy, admin)?;
    let note = note(req.note.as_deref())?;
    let key = keys::report(id);
    let (raw, report) = match store.get(&key).await? {
        Some(raw) if crate::studio::validate::is_ulid(id) => {
            let report: Report = serde_json::from_slice(&raw)
                .map_err(|_| ApiError::internal("a report record is unreadable"))?;
            (raw, report)
        }
        _ => return Err(ApiError::not_found("no such report")),
    };
    if report.resolution.is_some() {
        return Err(ApiError::conflict(
            "report_resolved",
            "this report is already resolved",
        ));
    }
    let unsupported = |what: &str| {
        Err(ApiError::new(
            422,
            "action_not_supported",
            format!("{what} cannot be done to a {}", report.target_type.as_str()),
        ))
    };
    match (req.action, report.target_type) {
        (ReportAction::Dismiss, _) => {}
        (ReportAction::TakeDown, TargetKind::Video) => {
            remove_video(store, env, &report.target_id, TAKEN_DOWN).await?;
        }
        (ReportAction::Restore, TargetKind::Video) => {
            restore_video(store, &report.target_id).await?
        }
        (ReportAction::TakeDown, TargetKind::Comment) => {
            // Removing as its author keeps the comment counts right.
            if let Some(c) = load_comment(store, &report.target_id).await? {
                delete_comment(store, env, &c.author, &c.id).await?;
            }
        }
        (ReportAction::TakeDown, TargetKind::User) => return unsupported("take_down"),
        (ReportAction::Restore, _) => return unsupported("restore"),
    }
    let closed = Report {
        resolution: Some(Resolution {
            action: req.action,
            by: admin.id.clone(),
            note: note.clone(),
            at_ms: env.now_ms(),
        }),
        ..report.clone()
    };
    if !store
        .compare_and_swap(&key, Some(&raw), &encode(&closed))
        .await?
    {
        return Err(ApiError::conflict(
            "report_resolved",
            "this report is already resolved",
        ));
    }
    pages::remove(store, &queue(), report.page, &report.id).await?;
    store
        .delete(&keys::report_claim(
            &report.reporter,
            report.target_type.as_str(),
            &report.target_id,
        ))
        .await?;
    if req.action != ReportAction::Dismiss {
        tell_owner(store, env, &closed, req.action, note).await;
    }
    Ok(closed)
}

/// Brings back a video a moderator took down (a video its maker deleted
/// stays deleted); feeds and links serve it again from the next request.
pub async fn restore_video<S: Store>(store: &S, video_id: &str) -> Result<(), ApiError> {
    let key = keys::video(video_id);
    for _ in 0..MAX_CAS_TRIES {
        let Some(raw) = store.get(&key).await? else {
            return Err(ApiError::not_found("no such video"));
        };
        let mut video: Video = serde_json::from_slice(&raw)
            .map_err(|_| ApiError::internal("a video record is unreadable"))?;
        if video
            .removed
            .as_ref()
            .is_none_or(|r| r.reason != TAKEN_DOWN)
        {
            return Ok(());
        }
        video.removed = None;
        let new = serde_json::to_vec(&video).expect("a video serialises");
        if store.compare_and_swap(&key, Some(&raw), &new).await? {
            return Ok(());
        }
    }
    Err(busy())
}

/// Tells the owner what was done; a side effect that never undoes the action.
async fn tell_owner<S: Store>(
    store: &S,
    env: &dyn Env,
    report: &Report,
    action: ReportAction,
    note: Option<String>,
) {
    let what = report.target_type.as_str();
    let mut text = match action {
        ReportAction::Restore => format!("Your {what} was restored after review"),
        _ => format!("Your {what} was removed for breaking the rules"),
    };
    if let Some(n) = note {
        text = format!("{text}: {n}");
    }
    let subject = match report.target_type {
        TargetKind::Video => Subject {
            video_id: Some(report.target_id.clone()),
            ..Subject::default()
        },
        TargetKind::Comment => Subject {
            comment_id: Some(report.target_id.clone()),
            ..Subject::default()
        },
        TargetKind::User => Subject::default(),
    };
    let new = NewNotification {
        kind: Kind::Moderation,
        actor: None,
        subject,
        text: Some(text),
    };
    let _ = notify(store, env, &report.owner, new).await;
}
