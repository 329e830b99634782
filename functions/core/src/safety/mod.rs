//! Safety: the prompt and comment filter, the rights registry, reports and
//! takedowns.
//!
//! The filter reads text the way a person would: [`normalize`] undoes
//! disguises (look-alike letters, zero-width characters, spacing, leetspeak),
//! then [`lexicon`] looks whole words up in the lists under `lists/`. A text
//! is refused with 422 and a code naming why (`content_blocked_<reason>`, see
//! [`Reason::code`]) and a message naming the category, before anything is
//! stored or rendered. `docs/SAFETY.md` lists the reasons and the figures the
//! labelled set must keep.

pub mod figures;
pub mod lexicon;
pub mod normalize;
pub mod reports;
pub mod rights;

#[cfg(test)]
mod eval;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use crate::accounts::{AccessPolicy, User};
use crate::error::ApiError;
use crate::keys;
use crate::store::Store;
use crate::studio::Video;

pub use reports::{
    NewReport, ReportAction, ReportPage, ReportReason, ReportView, Resolve, TargetKind,
    create_report, list_reports, resolve_report,
};
pub use rights::{
    NewRightsEntry, RightsEntry, RightsKind, RightsPage, RightsPolicy, add_rights, delete_rights,
    list_rights,
};

/// A harmful-content category of the word filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// Sexual content involving minors.
    SexualMinors,
    /// Violent extremism: propaganda, recruitment, glorified attacks.
    Extremism,
    /// Hate speech against protected groups, slurs.
    Hate,
    /// Threats, bullying and abuse aimed at a person.
    Harassment,
    /// Graphic violence and gore.
    GraphicViolence,
    /// Instructions for or promotion of illegal activity.
    Illegal,
    /// Suicide and self-harm.
    SelfHarm,
    /// Sexual content and nudity.
    Sexual,
}

impl Category {
    /// Every category, most severe first (the order a refusal names them in).
    pub const ALL: [Category; 8] = [
        Category::SexualMinors,
        Category::Extremism,
        Category::Hate,
        Category::Harassment,
        Category::GraphicViolence,
        Category::Illegal,
        Category::SelfHarm,
        Category::Sexual,
    ];

    /// The list and wire name (`sexual_minors`, `graphic_violence`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Category::SexualMinors => "sexual_minors",
            Category::Extremism => "extremism",
            Category::Hate => "hate",
            Category::Harassment => "harassment",
            Category::GraphicViolence => "graphic_violence",
            Category::Illegal => "illegal",
            Category::SelfHarm => "self_harm",
            Category::Sexual => "sexual",
        }
    }

    /// The category named `name`.
    pub fn parse(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// What a person reads: "sexual content involving minors", ...
    pub fn label(self) -> &'static str {
        match self {
            Category::SexualMinors => "sexual content involving minors",
            Category::Extremism => "violent extremism",
            Category::Hate => "hate speech",
            Category::Harassment => "harassment",
            Category::GraphicViolence => "graphic violence",
            Category::Illegal => "illegal activity",
            Category::SelfHarm => "suicide or self-harm",
            Category::Sexual => "sexual content",
        }
    }

    /// Whether text in this category is refused where it is used. Prompts
    /// refuse every category; comments may talk about a scene's violence or
    /// say "this killed me" (refusing those was the top complaint elsewhere).
    pub fn decision(self, surface: Surface) -> Decision {
        match (surface, self) {
            (Surface::Comment, Category::GraphicViolence | Category::SelfHarm) => Decision::Allow,
            _ => Decision::Block,
        }
    }
}

/// Where a text is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// A generation prompt (and the prompts of a remix chain).
    Prompt,
    /// A comment or reply.
    Comment,
}

/// What the filter does with a category on a surface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Refused with its reason.
    Block,
    /// Let through.
    Allow,
}

/// Why a text was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// A harmful-content category.
    Category(Category),
    /// Names a public figure who is not a verified cameo allowing it.
    PublicFigure(String),
    /// Mentions a member (`@handle`) who is not cast as a cameo.
    RealPerson(String),
    /// Names a rights registry entry whose holder opted out.
    Rights(String),
}

impl Reason {
    /// The error code clients branch on: `content_blocked_` + the category
    /// (`content_blocked_hate`, ...) or `content_blocked_public_figure`,
    /// `content_blocked_real_person`, `content_blocked_rights`.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::Category(c) => match c {
                Category::SexualMinors => "content_blocked_sexual_minors",
                Category::Extremism => "content_blocked_extremism",
                Category::Hate => "content_blocked_hate",
                Category::Harassment => "content_blocked_harassment",
                Category::GraphicViolence => "content_blocked_graphic_violence",
                Category::Illegal => "content_blocked_illegal",
                Category::SelfHarm => "content_blocked_self_harm",
                Category::Sexual => "content_blocked_sexual",
            },
            Reason::PublicFigure(_) => "content_blocked_public_figure",
            Reason::RealPerson(_) => "content_blocked_real_person",
            Reason::Rights(_) => "content_blocked_rights",
        }
    }

    /// The 422 a client shows: what was found, in words, without echoing it.
    pub fn error(&self, what: &str) -> ApiError {
        let message = match self {
            Reason::Category(c) => format!(
                "this {what} was refused: it reads as {} (category {})",
                c.label(),
                c.as_str()
            ),
            Reason::PublicFigure(name) => format!(
                "this {what} names a real public figure ({name}); real people appear only as verified cameos who allow it (category public_figure)"
            ),
            Reason::RealPerson(handle) => format!(
                "this {what} describes a real person (@{handle}) without casting them as a cameo (category real_person)"
            ),
            Reason::Rights(name) => format!(
                "this {what} uses {name}, whose rights holder does not allow it (category rights)"
            ),
        };
        ApiError::new(422, self.code(), message)
    }
}

/// The categories `text` falls in, most severe first (empty = clean).
pub fn classify(text: &str) -> Vec<Category> {
    lexicon::Lexicon::builtin().categories(&normalize::tokens(text))
}

/// The store-free part of a check: categories, public figures and member
/// mentions. `cameos` are the lower-case names and handles of verified
/// cameos in this request who allow being shown (empty until cameos exist).
pub fn screen(text: &str, surface: Surface, cameos: &[String]) -> Result<(), Reason> {
    let tokens = normalize::tokens(text);
    let blocked = lexicon::Lexicon::builtin()
        .categories(&tokens)
        .into_iter()
        .find(|c| c.decision(surface) == Decision::Block);
    if let Some(c) = blocked {
        return Err(Reason::Category(c));
    }
    if surface == Surface::Prompt {
        if let Some(name) = figures::named(&tokens, cameos) {
            return Err(Reason::PublicFigure(name));
        }
        if let Some(handle) = figures::mentioned_member(text, cameos) {
            return Err(Reason::RealPerson(handle));
        }
    }
    Ok(())
}

/// How far up a remix chain the check reads (each level is one read).
pub const MAX_REMIX_DEPTH: usize = 8;

/// What an accepted prompt must carry: the terms of opt-in rights entries it uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Screened {
    /// `(entry name, terms)` of each opt-in entry the prompt or its chain uses.
    pub terms: Vec<(String, String)>,
}

/// Checks a generation prompt before anything is stored or rendered: the
/// word filter, public figures, member mentions and the rights registry, and
/// for a remix the prompts up its chain (lists and the registry may have
/// changed since they were made). 422 `content_blocked_*` when refused; an
/// unknown remix source is left to the studio's own check.
pub async fn check_prompt<S: Store>(
    store: &S,
    prompt: &str,
    remix_of: Option<&str>,
    cameos: &[String],
) -> Result<Screened, ApiError> {
    screen(prompt, Surface::Prompt, cameos).map_err(|r| r.error("prompt"))?;
    let mut screened = Screened::default();
    rights::check(store, prompt, &mut screened)
        .await?
        .map_or(Ok(()), |r| Err(r.error("prompt")))?;
    let mut next = remix_of.map(str::to_owned);
    for _ in 0..MAX_REMIX_DEPTH {
        let Some(id) = next.take() else { break };
        let Some(source) = load_video(store, &id).await? else {
            break;
        };
        let what = "remix's source video";
        screen(&source.prompt, Surface::Prompt, &[]).map_err(|r| r.error(what))?;
        if let Some(r) = rights::check(store, &source.prompt, &mut screened).await? {
            return Err(r.error(what));
        }
        next = source.remix_of;
    }
    Ok(screened)
}

/// Checks a comment's text (after the social rules' own length checks).
pub fn check_comment(text: &str) -> Result<(), ApiError> {
    screen(text, Surface::Comment, &[]).map_err(|r| r.error("comment"))
}

/// 403 `admin_only` unless `user` holds the admin role (`admin_handles`).
pub fn require_admin(policy: &AccessPolicy, user: &User) -> Result<(), ApiError> {
    if policy.is_admin(&user.handle) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "admin_only",
            "this needs the admin role",
        ))
    }
}

/// A video record, live or not; `None` when absent or unreadable.
pub(crate) async fn load_video<S: Store>(store: &S, id: &str) -> Result<Option<Video>, ApiError> {
    Ok(store
        .get(&keys::video(id))
        .await?
        .and_then(|b| serde_json::from_slice(&b).ok()))
}
