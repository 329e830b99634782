//! The rights registry: characters, brands, franchises and artists whose
//! holders opted out (prompts naming them are refused) or in (allowed, with
//! terms). Operators manage it; every prompt is checked against it.
//!
//! An entry lives at `rights:{id}` and in the `rights_list` pages. Each of
//! its names is also filed under its longest word (`rights_word:{skeleton}`),
//! so a check reads the buckets of the prompt's words in one batched read,
//! never the whole registry, and a change takes effect on the next request.

use serde::{Deserialize, Serialize};

use super::normalize::{self, Tokens};
use super::{Reason, Screened, require_admin};
use crate::accounts::{AccessPolicy, User};
use crate::env::Env;
use crate::error::ApiError;
use crate::ids::new_ulid;
use crate::keys;
use crate::pages::{self, MAX_CAS_TRIES, PagedList, Position, busy};
use crate::store::Store;
use crate::time::rfc3339_from_ms;

/// Longest name, alias or holder, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Most aliases per entry.
pub const MAX_ALIASES: usize = 20;
/// Most words in one name.
pub const MAX_NAME_WORDS: usize = 8;
/// Longest terms text.
pub const MAX_TERMS_CHARS: usize = 2000;
/// Most names filed under one word.
pub const MAX_BUCKET: usize = 500;
/// Most distinct words of a prompt looked up (a prompt has at most 1000 characters).
const MAX_LOOKUPS: usize = 400;
/// Entries per listing page, by default and at most.
const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 200;

/// What an entry protects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RightsKind {
    /// A fictional character.
    Character,
    /// A brand or trademark.
    Brand,
    /// A franchise, film or series.
    Franchise,
    /// An artist's name (and style).
    Artist,
}

/// What the holder allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RightsPolicy {
    /// Prompts naming it are refused.
    OptOut,
    /// Allowed, under the entry's terms.
    OptIn,
}

/// `POST /v1/admin/rights` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRightsEntry {
    /// The main name ("Mickey Mouse").
    pub name: String,
    /// Other names it goes by.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// What it is.
    pub kind: RightsKind,
    /// Opt-out or opt-in.
    pub policy: RightsPolicy,
    /// Terms of an opt-in (required there, refused for an opt-out).
    #[serde(default)]
    pub terms: Option<String>,
    /// Who holds the rights.
    #[serde(default)]
    pub holder: Option<String>,
}

/// A registry entry, as stored and as operators see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RightsEntry {
    /// ULID.
    pub id: String,
    /// Main name.
    pub name: String,
    /// Other names.
    pub aliases: Vec<String>,
    /// What it is.
    pub kind: RightsKind,
    /// Opt-out or opt-in.
    pub policy: RightsPolicy,
    /// Opt-in terms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terms: Option<String>,
    /// Rights holder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
    /// The admin who added it (user id).
    pub created_by: String,
    /// RFC 3339.
    pub created_at: String,
    /// Listing page holding its id.
    #[serde(skip_serializing)]
    #[serde(default)]
    pub page: u64,
}

/// One name filed under a word (`rights_word:`), enough to decide alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Matcher {
    id: String,
    name: String,
    phrase: Vec<String>,
    policy: RightsPolicy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    terms: Option<String>,
}

/// A page of entries, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RightsPage {
    /// Entries.
    pub entries: Vec<RightsEntry>,
    /// Where to go on; `None` at the oldest.
    pub next_cursor: Option<String>,
}

const LIST_OWNER: &str = "all";

fn list() -> PagedList<'static> {
    PagedList::new(LIST_OWNER, keys::rights_list_head, keys::rights_list_page)
}

fn text_field(field: &str, value: &str) -> Result<String, ApiError> {
    let v = value.trim();
    let chars = v.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS || v.chars().any(char::is_control) {
        return Err(ApiError::invalid_request(format!(
            "{field} must be 1-{MAX_NAME_CHARS} characters, no control characters"
        )));
    }
    Ok(v.to_owned())
}

/// A name's skeleton words; 400 when it has none or too many.
fn name_phrase(name: &str) -> Result<Vec<String>, ApiError> {
    let words: Vec<String> = normalize::tokens(name)
        .words
        .into_iter()
        .filter_map(|mut r| (!r.is_empty()).then(|| r.swap_remove(0)))
        .collect();
    if words.is_empty() || words.len() > MAX_NAME_WORDS {
        return Err(ApiError::invalid_request(format!(
            "{name:?} must have 1-{MAX_NAME_WORDS} words of letters or digits"
        )));
    }
    Ok(words)
}

/// The word a phrase is filed under: its longest (rarest, as a rule).
fn bucket_word(phrase: &[String]) -> &str {
    phrase
        .iter()
        .max_by_key(|w| w.chars().count())
        .map(String::as_str)
        .unwrap_or_default()
}

/// An admin adds an entry; it applies from the next request on.
pub async fn add_rights<S: Store>(
    store: &S,
    env: &dyn Env,
    policy: &AccessPolicy,
    admin: &User,
    req: NewRightsEntry,
) -> Result<RightsEntry, ApiError> {
    require_admin(policy, admin)?;
    let name = text_field("name", &req.name)?;
    if req.aliases.len() > MAX_ALIASES {
        return Err(ApiError::invalid_request(format!(
            "at most {MAX_ALIASES} aliases"
        )));
    }
    let mut aliases: Vec<String> = Vec::new();
    for a in &req.aliases {
        let a = text_field("aliases", a)?;
        if !aliases.contains(&a) && a != name {
            aliases.push(a);
        }
    }
    let terms = req
        .terms
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    match (req.policy, terms) {
        (RightsPolicy::OptIn, None) => {
            return Err(ApiError::invalid_request(
                "an opt_in entry needs terms: what the holder allows",
            ));
        }
        (RightsPolicy::OptOut, Some(_)) => {
            return Err(ApiError::invalid_request(
                "terms apply to opt_in entries only",
            ));
        }
        (_, Some(t)) if t.chars().count() > MAX_TERMS_CHARS => {
            return Err(ApiError::invalid_request(format!(
                "terms must be at most {MAX_TERMS_CHARS} characters"
            )));
        }
        _ => {}
    }
    let holder = req
        .holder
        .as_deref()
        .map(|h| text_field("holder", h))
        .transpose()?;
    let mut phrases = Vec::new();
    for n in std::iter::once(&name).chain(&aliases) {
        let p = name_phrase(n)?;
        if !phrases.iter().any(|(q, _)| q == &p) {
            phrases.push((p, n.clone()));
        }
    }

    let id = new_ulid(env);
    let page = pages::append(store, &list(), &id, false).await?;
    let entry = RightsEntry {
        id: id.clone(),
        name: name.clone(),
        aliases,
        kind: req.kind,
        policy: req.policy,
        terms: terms.map(str::to_owned),
        holder,
        created_by: admin.id.clone(),
        created_at: rfc3339_from_ms(env.now_ms()),
        page,
    };
    store
        .set(
            &keys::rights(&id),
            &serde_json::to_vec(&entry).expect("serialises"),
        )
        .await?;
    for (phrase, _) in &phrases {
        let matcher = Matcher {
            id: id.clone(),
            name: name.clone(),
            phrase: phrase.clone(),
            policy: entry.policy,
            terms: entry.terms.clone(),
        };
        let filed = edit_bucket(store, bucket_word(phrase), |m| {
            if m.len() >= MAX_BUCKET {
                return false;
            }
            m.push(matcher.clone());
            true
        })
        .await;
        if let Err(e) = filed {
            // Leave nothing half-filed: the admin can retry the whole entry.
            let _ = delete_entry(store, &entry).await;
            return Err(e);
        }
    }
    Ok(entry)
}

/// Changes one bucket by compare-and-swap; `change` returns false to refuse (full).
async fn edit_bucket<S: Store>(
    store: &S,
    word: &str,
    change: impl Fn(&mut Vec<Matcher>) -> bool,
) -> Result<(), ApiError> {
    let key = keys::rights_word(word);
    for _ in 0..MAX_CAS_TRIES {
        let raw = store.get(&key).await?;
        let mut matchers: Vec<Matcher> = raw
            .as_deref()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or_default();
        if !change(&mut matchers) {
            return Err(ApiError::conflict(
                "rights_word_full",
                format!("too many registry names share the word {word:?}"),
            ));
        }
        let new = serde_json::to_vec(&matchers).expect("serialises");
        if store.compare_and_swap(&key, raw.as_deref(), &new).await? {
            return Ok(());
        }
    }
    Err(busy())
}

async fn delete_entry<S: Store>(store: &S, entry: &RightsEntry) -> Result<(), ApiError> {
    let mut words: Vec<String> = Vec::new();
    for n in std::iter::once(&entry.name).chain(&entry.aliases) {
        if let Ok(p) = name_phrase(n) {
            let w = bucket_word(&p).to_owned();
            if !words.contains(&w) {
                words.push(w);
            }
        }
    }
    for w in words {
        edit_bucket(store, &w, |m| {
            m.retain(|x| x.id != entry.id);
            true
        })
        .await?;
    }
    pages::remove(store, &list(), entry.page, &entry.id).await?;
    store.delete(&keys::rights(&entry.id)).await?;
    Ok(())
}

/// An admin removes an entry; prompts naming it are judged without it from the next request.
pub async fn delete_rights<S: Store>(
    store: &S,
    policy: &AccessPolicy,
    admin: &User,
    id: &str,
) -> Result<(), ApiError> {
    require_admin(policy, admin)?;
    let entry = load(store, id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such rights entry"))?;
    delete_entry(store, &entry).await
}

async fn load<S: Store>(store: &S, id: &str) -> Result<Option<RightsEntry>, ApiError> {
    if !crate::studio::validate::is_ulid(id) {
        return Ok(None);
    }
    Ok(store
        .get(&keys::rights(id))
        .await?
        .and_then(|b| serde_json::from_slice(&b).ok()))
}

/// An admin lists the registry, newest first.
pub async fn list_rights<S: Store>(
    store: &S,
    policy: &AccessPolicy,
    admin: &User,
    cursor: Option<&str>,
    limit: Option<usize>,
) -> Result<RightsPage, ApiError> {
    require_admin(policy, admin)?;
    let limit = limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let from = cursor.map(Position::decode).transpose()?;
    let (ids, next) = pages::read_newest_first(store, &list(), from, limit, 8).await?;
    let keys: Vec<String> = ids.iter().map(|id| keys::rights(id)).collect();
    let entries = store
        .get_many(&keys)
        .await?
        .into_iter()
        .flatten()
        .filter_map(|b| serde_json::from_slice(&b).ok())
        .collect();
    Ok(RightsPage {
        entries,
        next_cursor: next.map(|p| p.encode()),
    })
}

/// Checks `text` against the registry: the first opt-out entry it names, if
/// any; the terms of opt-in entries it names are added to `screened`.
pub(crate) async fn check<S: Store>(
    store: &S,
    text: &str,
    screened: &mut Screened,
) -> Result<Option<Reason>, ApiError> {
    let tokens = normalize::tokens(text);
    let mut words: Vec<&str> = tokens.candidates().filter(|w| !w.is_empty()).collect();
    words.sort_unstable();
    words.dedup();
    words.truncate(MAX_LOOKUPS);
    if words.is_empty() {
        return Ok(None);
    }
    let keys: Vec<String> = words.iter().map(|w| keys::rights_word(w)).collect();
    let buckets = store.get_many(&keys).await?;
    let matchers = buckets
        .into_iter()
        .flatten()
        .filter_map(|b| serde_json::from_slice::<Vec<Matcher>>(&b).ok())
        .flatten();
    Ok(first_match(&tokens, matchers, screened))
}

fn first_match(
    tokens: &Tokens,
    matchers: impl Iterator<Item = Matcher>,
    screened: &mut Screened,
) -> Option<Reason> {
    for m in matchers {
        if !tokens.contains(&m.phrase) {
            continue;
        }
        match m.policy {
            RightsPolicy::OptOut => return Some(Reason::Rights(m.name)),
            RightsPolicy::OptIn => {
                let terms = (m.name.clone(), m.terms.clone().unwrap_or_default());
                if !screened.terms.contains(&terms) {
                    screened.terms.push(terms);
                }
            }
        }
    }
    None
}
