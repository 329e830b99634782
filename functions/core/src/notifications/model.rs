//! What a notification is and how clients see it.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::time::rfc3339_from_ms;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Someone cast you in a generation they asked for.
    CameoRequested,
    /// A draft that uses your likeness is ready.
    CameoDraftReady,
    /// A video that uses your likeness was published.
    CameoPublished,
    /// Someone asks to use your likeness.
    CameoPermissionRequested,
    /// Your request to use someone's likeness was answered.
    CameoPermissionAnswered,
    /// Your video was liked.
    Like,
    /// Your video got a comment.
    Comment,
    /// Your comment got a reply.
    Reply,
    /// Your comment was liked.
    CommentLike,
    /// Your video was shared.
    Share,
    /// Your video was remixed.
    Remix,
    /// Someone followed you.
    NewFollower,
    /// Your generation is ready.
    GenerationReady,
    /// Your generation failed or was refused.
    GenerationFailed,
    /// A moderation decision about your content.
    Moderation,
}

impl Kind {
    /// Every kind, for settings and validation.
    pub const ALL: [Kind; 15] = [
        Kind::CameoRequested,
        Kind::CameoDraftReady,
        Kind::CameoPublished,
        Kind::CameoPermissionRequested,
        Kind::CameoPermissionAnswered,
        Kind::Like,
        Kind::Comment,
        Kind::Reply,
        Kind::CommentLike,
        Kind::Share,
        Kind::Remix,
        Kind::NewFollower,
        Kind::GenerationReady,
        Kind::GenerationFailed,
        Kind::Moderation,
    ];

    /// The wire name (`like`, `new_follower`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::CameoRequested => "cameo_requested",
            Kind::CameoDraftReady => "cameo_draft_ready",
            Kind::CameoPublished => "cameo_published",
            Kind::CameoPermissionRequested => "cameo_permission_requested",
            Kind::CameoPermissionAnswered => "cameo_permission_answered",
            Kind::Like => "like",
            Kind::Comment => "comment",
            Kind::Reply => "reply",
            Kind::CommentLike => "comment_like",
            Kind::Share => "share",
            Kind::Remix => "remix",
            Kind::NewFollower => "new_follower",
            Kind::GenerationReady => "generation_ready",
            Kind::GenerationFailed => "generation_failed",
            Kind::Moderation => "moderation",
        }
    }

    /// Reads a wire name.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Bursts of these fold into one notification per subject ("Ana and 12
    /// others liked your video"); the others stand alone.
    pub fn aggregates(self) -> bool {
        matches!(
            self,
            Kind::Like | Kind::CommentLike | Kind::Share | Kind::NewFollower
        )
    }

    /// The sentence after the actors' names.
    fn verb(self) -> &'static str {
        match self {
            Kind::CameoRequested => "cast you in a new generation",
            Kind::CameoDraftReady => "has a draft with your cameo ready",
            Kind::CameoPublished => "published a video with your cameo",
            Kind::CameoPermissionRequested => "asked to use your cameo",
            Kind::CameoPermissionAnswered => "answered your cameo request",
            Kind::Like => "liked your video",
            Kind::Comment => "commented on your video",
            Kind::Reply => "replied to your comment",
            Kind::CommentLike => "liked your comment",
            Kind::Share => "shared your video",
            Kind::Remix => "remixed your video",
            Kind::NewFollower => "followed you",
            Kind::GenerationReady => "Your generation is ready",
            Kind::GenerationFailed => "Your generation could not be made",
            Kind::Moderation => "A moderation decision was made about your content",
        }
    }
}

/// Who did it, as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// User id.
    pub id: String,
    /// Their handle when it happened; empty once they deleted their account.
    pub handle: String,
    /// Whether they have since deleted their account (set when listed).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

impl Actor {
    /// `user` as the actor of what they just did.
    pub fn of(user: &crate::accounts::User) -> Self {
        Actor {
            id: user.id.clone(),
            handle: user.handle.clone(),
            deleted: false,
        }
    }

    /// The same actor once their account is gone: no handle is shown.
    fn erased(&self) -> Self {
        Actor {
            id: self.id.clone(),
            handle: String::new(),
            deleted: true,
        }
    }
}

/// What it is about; every field optional, the kind says which apply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// A published video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_id: Option<String>,
    /// A draft (generation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft_id: Option<String>,
    /// A comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment_id: Option<String>,
}

impl Subject {
    /// The id bursts are grouped by, and the deep link's target.
    pub(crate) fn group_id(&self) -> &str {
        self.comment_id
            .as_deref()
            .or(self.video_id.as_deref())
            .or(self.draft_id.as_deref())
            .unwrap_or("-")
    }

    /// Where tapping the notification goes in the app.
    fn deep_link(&self, kind: Kind, actor: Option<&Actor>) -> String {
        match (&self.comment_id, &self.video_id, &self.draft_id) {
            (Some(c), Some(v), _) => format!("dreamreel://videos/{v}/comments/{c}"),
            (_, Some(v), _) => format!("dreamreel://videos/{v}"),
            (_, _, Some(d)) => format!("dreamreel://drafts/{d}"),
            _ => match (kind, actor) {
                (_, Some(a)) if !a.deleted => format!("dreamreel://users/{}", a.handle),
                _ => "dreamreel://notifications".to_owned(),
            },
        }
    }
}

/// What a feature reports happened to `recipient`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    /// What happened.
    pub kind: Kind,
    /// Who did it (`None` for system events such as a finished generation).
    pub actor: Option<Actor>,
    /// What it is about.
    pub subject: Subject,
    /// A short text to show (a comment's first words, a refusal reason).
    pub text: Option<String>,
}

/// Actors kept on an aggregated notification (the count keeps the rest).
pub(crate) const MAX_ACTORS: usize = 3;
/// Characters of `text` kept.
pub(crate) const MAX_TEXT_CHARS: usize = 140;

/// A stored notification (`notif:{user}:{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// ULID of its creation.
    pub id: String,
    /// What happened.
    pub kind: Kind,
    /// The latest actors, newest first.
    pub actors: Vec<Actor>,
    /// How many events folded into it.
    pub count: u64,
    /// What it is about.
    pub subject: Subject,
    /// Short text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Whether the member has read it since its last event.
    pub read: bool,
    /// The sequence number of its latest change.
    pub seq: u64,
    /// Where its id sits in the inbox pages.
    pub page: u64,
    /// Unix ms of its first event.
    pub created_at_ms: u64,
    /// Unix ms of its latest event.
    pub updated_at_ms: u64,
}

impl Notification {
    /// What clients see.
    pub fn view(&self) -> NotificationView {
        NotificationView {
            id: self.id.clone(),
            kind: self.kind.as_str().to_owned(),
            summary: self.summary(),
            actors: self.actors.clone(),
            count: self.count,
            subject: self.subject.clone(),
            text: self.text.clone(),
            deep_link: self.subject.deep_link(self.kind, self.actors.first()),
            read: self.read,
            seq: self.seq,
            created_at: rfc3339_from_ms(self.created_at_ms),
            updated_at: rfc3339_from_ms(self.updated_at_ms),
        }
    }

    fn summary(&self) -> String {
        summary(self.kind, &self.actors, self.count)
    }
}

/// "ana liked your video", "ana and 12 others liked your video".
fn summary(kind: Kind, actors: &[Actor], count: u64) -> String {
    let Some(first) = actors.first() else {
        return format!("{}.", kind.verb());
    };
    let who = if first.deleted {
        "A deleted member"
    } else {
        first.handle.as_str()
    };
    match count.saturating_sub(1) {
        0 => format!("{who} {}.", kind.verb()),
        1 => format!("{who} and 1 other {}.", kind.verb()),
        n => format!("{who} and {n} others {}.", kind.verb()),
    }
}

impl NotificationView {
    /// Shows the actors in `gone` (deleted accounts) without their handles,
    /// and drops what a deleted member wrote (a comment's first words).
    pub(crate) fn forget(&mut self, gone: &HashSet<String>) {
        let mut changed = false;
        for actor in self.actors.iter_mut().filter(|a| gone.contains(&a.id)) {
            *actor = actor.erased();
            changed = true;
        }
        let Some(kind) = Kind::parse(&self.kind).filter(|_| changed) else {
            return;
        };
        if matches!(kind, Kind::Comment | Kind::Reply)
            && self.actors.first().is_some_and(|a| a.deleted)
        {
            self.text = None;
        }
        self.summary = summary(kind, &self.actors, self.count);
        self.deep_link = self.subject.deep_link(kind, self.actors.first());
    }
}

/// A notification as clients see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationView {
    /// ULID.
    pub id: String,
    /// Kind's wire name.
    pub kind: String,
    /// A ready-to-show sentence.
    pub summary: String,
    /// The latest actors, newest first.
    pub actors: Vec<Actor>,
    /// Events folded into it.
    pub count: u64,
    /// What it is about.
    pub subject: Subject,
    /// Short text, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Where tapping it goes.
    pub deep_link: String,
    /// Read since its latest event.
    pub read: bool,
    /// Sequence number of its latest change (the stream's event id).
    pub seq: u64,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}
