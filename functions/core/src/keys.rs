//! The key schema: every key the edge stores, built only through these
//! functions, so the layout lives in one place (DynamoDB single-table style).
//!
//! | key                 | value                                                  |
//! | ------------------- | ------------------------------------------------------ |
//! | `user:{user_id}`    | JSON [`crate::accounts::User`] (incl. password hash)   |
//! | `handle:{lowercase}`| the owning user id (UTF-8); claimed by compare-and-swap |
//! | `invite:{code}`     | JSON [`crate::accounts::invites::Invite`]; `code` is normalised (upper case, no separators) |
//! | `invites_of:{user_id}:{n}` / `:head` | pages of the normalised invite codes a member was given (same layout as the draft pages) |
//! | `profile:{user_id}` | JSON [`crate::accounts::Profile`]: bio, birth date, sign-up country and the protections of an under-18 |
//! | `session_epoch:{user_id}` | counter: bumped by log-out-everywhere; tokens minted under an older number are refused |
//! | `session_end:{sid}` | Unix ms the ended session's token would expire (log-out, refresh); set by compare-and-swap, so a token refreshes once |
//! | `rate:{action}:{subject}:{window}` | counter: attempts of `action` (`login_handle`, `login_addr`, `signup_handle`, `signup_addr`; `report` with hour windows; `write` with subject `{user_id}:{route family}`, see [`crate::accounts::ratelimit::hit_write`]) in one fixed window (window = Unix seconds / window length); production lets them expire (DynamoDB TTL) |
//! | `health:probe`      | never written; the health check reads it to prove the store answers |
//! | `draft:{draft_id}`  | JSON [`crate::studio::Draft`]; a deleted draft stays as a tombstone (`deleted_at_ms`, prompt erased) so late worker callbacks are refused |
//! | `drafts:{user_id}:{n}` | page `n` (0, 1, ...) of the maker's draft ids: a JSON array, oldest first, at most [`crate::pages::PAGE_CAPACITY`] entries, appended by compare-and-swap; a deleted draft's entry is blanked (`""`) in place |
//! | `drafts:{user_id}:head` | decimal number of the newest draft page (a hint: readers probe past it) |
//! | `video:{video_id}`  | JSON [`crate::studio::Video`]; the id is the draft's; created by compare-and-swap, so publishing twice makes one video |
//! | `remixes:{video_id}:{n}` | page `n` of the ids of published videos that remix this one (same layout as the draft pages) |
//! | `remixes:{video_id}:head` | decimal number of the newest remix page (a hint) |
//! | `gen_quota:{user_id}:{YYYY-MM-DD}` | counter: generations accepted for the member on that UTC day, less refunds |
//! | `gen_idem:{user_id}:{sha256 hex}` | JSON [`crate::studio::IdempotencyRecord`] for one `Idempotency-Key` (hashed, so any header text makes a safe key) |
//! | `callback_nonce:{nonce}` | Unix ms after which the nonce could be forgotten (a stale timestamp is refused anyway); claimed by compare-and-swap so a replayed worker callback is refused |
//! | `follow:{a}:{b}`   | JSON edge (`on`, `since_ms`, list pages): whether `a` follows `b`; flipped by compare-and-swap |
//! | `following:{user_id}:{n}` / `:head` | pages of the ids `user_id` follows (same layout as the draft pages; the edge decides if an entry stands) |
//! | `followers:{user_id}:{n}` / `:head` | pages of the ids following `user_id` |
//! | `followers_count:{user_id}` / `following_count:{user_id}` | counters |
//! | `block:{a}:{b}`     | JSON edge: whether `a` blocked `b` |
//! | `blocks:{user_id}:{n}` / `:head` | pages of the ids `user_id` blocked |
//! | `notif:{user_id}:{id}` | JSON [`crate::notifications::Notification`]: one inbox entry (aggregated bursts included) |
//! | `notifs:{user_id}:{n}` / `:head` | pages of notification ids, latest activity last (a notification that gets new activity is appended again and its old entry blanked) |
//! | `notif_group:{user_id}:{kind}:{subject_id}` | id of the notification a burst of `kind` on a subject folds into |
//! | `notif_actor:{user_id}:{id}:{actor_id}` | present once `actor_id` is counted in burst `id` (claimed by compare-and-swap, so a person counts once) |
//! | `notif_seq:{user_id}` | counter: the member's latest notification sequence number |
//! | `notif_log:{user_id}:{seq}` | JSON [`crate::notifications::NotificationView`] as it stood at change `seq` (empty = a number that carries nothing); the live stream reads these |
//! | `notif_unread:{user_id}` | counter: unread notifications |
//! | `notif_settings:{user_id}` | JSON [`crate::notifications::Settings`] |
//! | `device:{user_id}:{device_id}` | JSON [`crate::notifications::Device`]; the id is derived from the APNs token or Web Push endpoint |
//! | `devices:{user_id}:{n}` / `:head` | pages of a member's device ids |
//! | `devices_count:{user_id}` | counter: registered devices |
//! | `push_outbox:{shard}:{n}` / `:head` | pages of queued pushes (`{user_id}:{seq}`), oldest first; shard = hash of the member |
//! | `push_cursor:{shard}` | JSON: how far the push dispatcher has read the shard |
//! | `like:{video_id}:{user_id}` | JSON edge (`on`, `since_ms`, list pages): whether the member likes the video; flipped by compare-and-swap |
//! | `likers:{video_id}:{n}` / `:head` | pages of the ids of members who liked a video (the edge decides if an entry stands) |
//! | `my_likes:{user_id}:{n}` / `:head` | pages of the ids of videos a member liked |
//! | `like_count:{video_id}:{shard}` | counter: a shard of a video's likes; shard 0 only while the video is narrow, one of [`crate::social::LIKE_SHARDS`] (hash of the liker) once it is wide; readers sum shard 0, and every shard of a wide video |
//! | `comment_count:{video_id}:{shard}` | counter: a shard of a video's live comments (replies included), laid out like `like_count` ([`crate::social::COMMENT_SHARDS`] when wide) |
//! | `share_count:{video_id}:{shard}` | counter: a shard of the members who shared a video, laid out like `like_count` ([`crate::social::SHARE_SHARDS`] when wide) |
//! | `counts_wide:{video_id}` | counter: above 0 once the video's like, comment and share counters went wide (never back); absent on most videos |
//! | `counts_heat:{video_id}:{window}` | counter: sampled changes of a narrow video's counters in one [`crate::social::HEAT_WINDOW_MS`] window (window = Unix ms / its length); reaching [`crate::social::HOT_WRITES`] widens the video; production lets them expire (DynamoDB TTL) |
//! | `comment:{comment_id}` | JSON [`crate::social::Comment`]; a deleted comment stays as a tombstone (text erased) |
//! | `comments:{video_id}:{n}` / `:head` | pages of a video's top-level comment ids |
//! | `replies:{comment_id}:{n}` / `:head` | pages of the reply ids of a top-level comment |
//! | `reply_count:{comment_id}` | counter: live replies of a top-level comment |
//! | `comment_like:{comment_id}:{user_id}` | JSON edge: whether the member likes the comment |
//! | `comment_like_count:{comment_id}` | counter: likes of a comment |
//! | `comment_idem:{user_id}:{sha256 hex}` | the comment id one `Idempotency-Key` of the member claimed (by compare-and-swap) |
//! | `share:{code}` | the video id a short link opens (UTF-8) |
//! | `share_link:{video_id}:{user_id}` | the member's short-link code for the video, claimed by compare-and-swap (one link and one counted share per member) |
//! | `recent:{scope}:{n}` / `:head` | pages of published video ids, oldest first (scope `all`: every video); the For You feed's fresh and trending candidates |
//! | `creator_videos:{user_id}:{n}` / `:head` | pages of a creator's published video ids, oldest first |
//! | `remix_count:{video_id}` | counter: videos published as remixes of this one |
//! | `vstat:{video_id}:{metric}` | counter: feed signals of a video (`imp` impressions, `watch_ms`, `done` completions, `skip`, `replay`, `hide` "not interested") |
//! | `feed_profile:{user_id}` | JSON [`crate::feed::Profile`]: the viewer's learned creator and term affinities (bounded) and taste (the direction of what they liked and watched through in prompt-embedding space, [`crate::feed::similar::Taste`]), changed by compare-and-swap |
//! | `feed_seen:{user_id}` | JSON [`crate::feed::Seen`]: the videos the viewer's For You already showed (bounded), and how deep it has read the catalogue |
//! | `feed_batch:{user_id}:{batch_id}` | present once an event batch was counted (claimed by compare-and-swap, so a retried batch counts once) |
//! | `embedding:{draft_id}` | the prompt's text embedding the worker sent with `complete` ([`crate::jobs::embedding::Quantized`] stored form: 4-byte scale, 384 signed bytes); the video takes the draft's id, so it stays with the video on publish; deleted with an unpublished draft |
//! | `caption_embedding:{video_id}` | the caption's text embedding the worker sent to `/internal/videos/{id}/caption-embedding` (same stored form as `embedding:`); written only while the video is live and carries the caption that was embedded; deleted when the video is deleted (not on a reversible takedown) |
//! | `sim_bucket:{table}:{bucket}` | binary: up to [`crate::feed::similar::BUCKET_CAP`] entries, oldest first, each a 26-character video id then its stored embedding (414 bytes): recent published videos whose prompt or caption embedding hashes (random hyperplanes, [`crate::feed::similar`]) to this bucket of that table (a video may have an entry for each); appended at publish and when the caption embedding arrives, by compare-and-swap (unique; the oldest leaves) |
//! | `rights:{id}` | JSON [`crate::safety::RightsEntry`]: a rights registry entry |
//! | `rights_list:all:{n}` / `:head` | pages of the registry's entry ids, oldest first |
//! | `rights_word:{skeleton}` | JSON array of the registry names filed under their longest word (normalised, see [`crate::safety::normalize`]), with policy and terms; changed by compare-and-swap; a prompt check batch-reads the buckets of its words |
//! | `report:{id}` | JSON [`crate::safety::reports::Report`]: a report and, once closed, its resolution (the moderation log) |
//! | `reports_open:open:{n}` / `:head` | pages of open report ids (the moderation queue); a resolved report's entry is blanked |
//! | `report_claim:{reporter_id}:{type}:{target_id}` | the open report of a reporter on a target, claimed by compare-and-swap (one open report each); deleted on resolution |
//! | `feed_time:{user_id}:{YYYY-MM-DD}` | counter: ms of feed an under-18 watched that UTC day (their daily budget; adults are not counted) |
//! | `cameo:{user_id}` | JSON [`crate::cameo::Cameo`]: verification state, the pending challenge, who may cast them and their instructions; changed by compare-and-swap |
//! | `cameo_grant:{owner}:{grantee}` | JSON [`crate::cameo::grants::Grant`]: a request to cast `owner` and its answer (requested, approved, denied, revoked) |
//! | `cameo_asks_in:{owner}:{n}` / `:head` | pages of the ids of members who asked to cast `owner` |
//! | `cameo_asks_out:{grantee}:{n}` / `:head` | pages of the ids of owners a member asked |
//! | `appearances:{owner}:{n}` / `:head` | pages of the ids of drafts (and so videos) that cast `owner`, oldest first |
//! | `avatar_upload:{user_id}` | JSON [`crate::accounts::avatar::AvatarUpload`]: the member's one pending avatar upload (a new one replaces it; confirming removes it) |
//! | `deleted_user:{user_id}` | JSON [`crate::accounts::deletion::Deletion`]: the tombstone of a deleted account and how far its erasure got; while present every token of the member is refused. The handle key then holds [`crate::accounts::deletion::RESERVED_HANDLE`], so the handle stays reserved and resolves to nobody |
//!
//! Ids are ULIDs; handles and invite codes are normalised before they reach a key.

/// `user:{id}` — the user record.
pub fn user(user_id: &str) -> String {
    format!("user:{user_id}")
}

/// `handle:{lowercase}` — which user owns a handle; `handle` must already be lowercase.
pub fn handle(handle_lowercase: &str) -> String {
    format!("handle:{handle_lowercase}")
}

/// `invite:{code}` — an invite's state; `code` must already be normalised.
pub fn invite(normalised_code: &str) -> String {
    format!("invite:{normalised_code}")
}

/// `invites_of:{user_id}:{page}` — one page of the invite codes a member was given.
pub fn invites_of_page(user_id: &str, page: u64) -> String {
    format!("invites_of:{user_id}:{page}")
}

/// `invites_of:{user_id}:head` — newest page of a member's invite codes (a hint).
pub fn invites_of_head(user_id: &str) -> String {
    format!("invites_of:{user_id}:head")
}

/// `profile:{user_id}` — a member's profile extras (bio, age, region, protections).
pub fn profile(user_id: &str) -> String {
    format!("profile:{user_id}")
}

/// `session_epoch:{user_id}` — the member's session generation (log-out-everywhere).
pub fn session_epoch(user_id: &str) -> String {
    format!("session_epoch:{user_id}")
}

/// `session_end:{sid}` — a session ended before its expiry.
pub fn session_end(session_id: &str) -> String {
    format!("session_end:{session_id}")
}

/// `rate:{action}:{subject}:{window}` — attempts counted in one fixed window.
pub fn rate(action: &str, subject: &str, window: u64) -> String {
    format!("rate:{action}:{subject}:{window}")
}

/// `health:probe` — read (never written) by the health check to prove the store answers.
pub fn health_probe() -> String {
    "health:probe".to_owned()
}

/// `draft:{id}` — a generation draft.
pub fn draft(draft_id: &str) -> String {
    format!("draft:{draft_id}")
}

/// `drafts:{user_id}:{page}` — one page of a member's draft index.
pub fn drafts_page(user_id: &str, page: u64) -> String {
    format!("drafts:{user_id}:{page}")
}

/// `drafts:{user_id}:head` — the newest page number of a member's draft index (a hint).
pub fn drafts_head(user_id: &str) -> String {
    format!("drafts:{user_id}:head")
}

/// `video:{id}` — a published video.
pub fn video(video_id: &str) -> String {
    format!("video:{video_id}")
}

/// `remixes:{video_id}:{page}` — one page of the videos remixing `video_id`.
pub fn remixes_page(video_id: &str, page: u64) -> String {
    format!("remixes:{video_id}:{page}")
}

/// `remixes:{video_id}:head` — the newest page number of a video's remixes (a hint).
pub fn remixes_head(video_id: &str) -> String {
    format!("remixes:{video_id}:head")
}

/// `gen_quota:{user_id}:{day}` — generations counted against a member on a UTC
/// day; `day` is `YYYY-MM-DD`.
pub fn generation_quota(user_id: &str, day: &str) -> String {
    format!("gen_quota:{user_id}:{day}")
}

/// `gen_idem:{user_id}:{key_hash}` — what one `Idempotency-Key` produced;
/// `key_hash` is the hex SHA-256 of the header value.
pub fn generation_idempotency(user_id: &str, key_hash: &str) -> String {
    format!("gen_idem:{user_id}:{key_hash}")
}

/// `callback_nonce:{nonce}` — a worker callback nonce already used.
pub fn callback_nonce(nonce: &str) -> String {
    format!("callback_nonce:{nonce}")
}

/// `follow:{a}:{b}` — whether `a` follows `b`.
pub fn follow(a: &str, b: &str) -> String {
    format!("follow:{a}:{b}")
}

/// `following:{user_id}:{page}` — one page of the people a member follows.
pub fn following_page(user_id: &str, page: u64) -> String {
    format!("following:{user_id}:{page}")
}

/// `following:{user_id}:head` — newest page of a member's following list (a hint).
pub fn following_head(user_id: &str) -> String {
    format!("following:{user_id}:head")
}

/// `followers:{user_id}:{page}` — one page of a member's followers.
pub fn followers_page(user_id: &str, page: u64) -> String {
    format!("followers:{user_id}:{page}")
}

/// `followers:{user_id}:head` — newest page of a member's followers (a hint).
pub fn followers_head(user_id: &str) -> String {
    format!("followers:{user_id}:head")
}

/// `followers_count:{user_id}` — how many follow the member.
pub fn followers_count(user_id: &str) -> String {
    format!("followers_count:{user_id}")
}

/// `following_count:{user_id}` — how many the member follows.
pub fn following_count(user_id: &str) -> String {
    format!("following_count:{user_id}")
}

/// `block:{a}:{b}` — whether `a` blocked `b`.
pub fn block(a: &str, b: &str) -> String {
    format!("block:{a}:{b}")
}

/// `blocks:{user_id}:{page}` — one page of the people a member blocked.
pub fn blocks_page(user_id: &str, page: u64) -> String {
    format!("blocks:{user_id}:{page}")
}

/// `blocks:{user_id}:head` — newest page of a member's block list (a hint).
pub fn blocks_head(user_id: &str) -> String {
    format!("blocks:{user_id}:head")
}

/// `notif:{user_id}:{id}` — one notification.
pub fn notification(user_id: &str, id: &str) -> String {
    format!("notif:{user_id}:{id}")
}

/// `notifs:{user_id}:{page}` — one page of a member's inbox.
pub fn notifications_page(user_id: &str, page: u64) -> String {
    format!("notifs:{user_id}:{page}")
}

/// `notifs:{user_id}:head` — newest inbox page (a hint).
pub fn notifications_head(user_id: &str) -> String {
    format!("notifs:{user_id}:head")
}

/// `notif_group:{user_id}:{kind}:{subject_id}` — the notification a burst folds into.
pub fn notification_group(user_id: &str, kind: &str, subject_id: &str) -> String {
    format!("notif_group:{user_id}:{kind}:{subject_id}")
}

/// `notif_actor:{user_id}:{id}:{actor_id}` — `actor_id` is counted in burst `id`.
pub fn notification_actor(user_id: &str, id: &str, actor_id: &str) -> String {
    format!("notif_actor:{user_id}:{id}:{actor_id}")
}

/// `notif_seq:{user_id}` — the member's notification sequence counter.
pub fn notifications_seq(user_id: &str) -> String {
    format!("notif_seq:{user_id}")
}

/// `notif_log:{user_id}:{seq}` — the notification as it stood at change `seq`.
pub fn notifications_log(user_id: &str, seq: u64) -> String {
    format!("notif_log:{user_id}:{seq}")
}

/// `notif_unread:{user_id}` — the member's unread count.
pub fn notifications_unread(user_id: &str) -> String {
    format!("notif_unread:{user_id}")
}

/// `notif_settings:{user_id}` — the member's notification settings.
pub fn notification_settings(user_id: &str) -> String {
    format!("notif_settings:{user_id}")
}

/// `device:{user_id}:{device_id}` — one registered device.
pub fn device(user_id: &str, device_id: &str) -> String {
    format!("device:{user_id}:{device_id}")
}

/// `devices:{user_id}:{page}` — one page of a member's device ids.
pub fn devices_page(user_id: &str, page: u64) -> String {
    format!("devices:{user_id}:{page}")
}

/// `devices:{user_id}:head` — newest device page (a hint).
pub fn devices_head(user_id: &str) -> String {
    format!("devices:{user_id}:head")
}

/// `devices_count:{user_id}` — how many devices a member registered.
pub fn devices_count(user_id: &str) -> String {
    format!("devices_count:{user_id}")
}

/// `push_outbox:{shard}:{page}` — one page of queued pushes.
pub fn push_outbox_page(shard: &str, page: u64) -> String {
    format!("push_outbox:{shard}:{page}")
}

/// `push_outbox:{shard}:head` — newest outbox page of a shard (a hint).
pub fn push_outbox_head(shard: &str) -> String {
    format!("push_outbox:{shard}:head")
}

/// `push_cursor:{shard}` — how far the dispatcher has read a shard.
pub fn push_cursor(shard: &str) -> String {
    format!("push_cursor:{shard}")
}

/// `like:{video_id}:{user_id}` — whether a member likes a video.
pub fn like(video_id: &str, user_id: &str) -> String {
    format!("like:{video_id}:{user_id}")
}

/// `likers:{video_id}:{page}` — one page of a video's likers.
pub fn likers_page(video_id: &str, page: u64) -> String {
    format!("likers:{video_id}:{page}")
}

/// `likers:{video_id}:head` — newest page of a video's likers (a hint).
pub fn likers_head(video_id: &str) -> String {
    format!("likers:{video_id}:head")
}

/// `my_likes:{user_id}:{page}` — one page of the videos a member liked.
pub fn my_likes_page(user_id: &str, page: u64) -> String {
    format!("my_likes:{user_id}:{page}")
}

/// `my_likes:{user_id}:head` — newest page of a member's liked videos (a hint).
pub fn my_likes_head(user_id: &str) -> String {
    format!("my_likes:{user_id}:head")
}

/// `like_count:{video_id}:{shard}` — one shard of a video's like count.
pub fn like_count(video_id: &str, shard: u32) -> String {
    format!("like_count:{video_id}:{shard}")
}

/// `comment_count:{video_id}:{shard}` — one shard of a video's comment count.
pub fn comment_count(video_id: &str, shard: u32) -> String {
    format!("comment_count:{video_id}:{shard}")
}

/// `share_count:{video_id}:{shard}` — one shard of a video's share count.
pub fn share_count(video_id: &str, shard: u32) -> String {
    format!("share_count:{video_id}:{shard}")
}

/// `counts_wide:{video_id}` — set once a video's counters spread over shards.
pub fn counts_wide(video_id: &str) -> String {
    format!("counts_wide:{video_id}")
}

/// `counts_heat:{video_id}:{window}` — sampled counter changes in one window.
pub fn counts_heat(video_id: &str, window: u64) -> String {
    format!("counts_heat:{video_id}:{window}")
}

/// `comment:{comment_id}` — one comment.
pub fn comment(comment_id: &str) -> String {
    format!("comment:{comment_id}")
}

/// `comments:{video_id}:{page}` — one page of a video's top-level comments.
pub fn comments_page(video_id: &str, page: u64) -> String {
    format!("comments:{video_id}:{page}")
}

/// `comments:{video_id}:head` — newest page of a video's comments (a hint).
pub fn comments_head(video_id: &str) -> String {
    format!("comments:{video_id}:head")
}

/// `replies:{comment_id}:{page}` — one page of a comment's replies.
pub fn replies_page(comment_id: &str, page: u64) -> String {
    format!("replies:{comment_id}:{page}")
}

/// `replies:{comment_id}:head` — newest page of a comment's replies (a hint).
pub fn replies_head(comment_id: &str) -> String {
    format!("replies:{comment_id}:head")
}

/// `reply_count:{comment_id}` — live replies of a top-level comment.
pub fn reply_count(comment_id: &str) -> String {
    format!("reply_count:{comment_id}")
}

/// `comment_like:{comment_id}:{user_id}` — whether a member likes a comment.
pub fn comment_like(comment_id: &str, user_id: &str) -> String {
    format!("comment_like:{comment_id}:{user_id}")
}

/// `comment_like_count:{comment_id}` — likes of a comment.
pub fn comment_like_count(comment_id: &str) -> String {
    format!("comment_like_count:{comment_id}")
}

/// `comment_idem:{user_id}:{key_hash}` — the comment an `Idempotency-Key` created.
pub fn comment_idempotency(user_id: &str, key_hash: &str) -> String {
    format!("comment_idem:{user_id}:{key_hash}")
}

/// `share:{code}` — the video a short link opens.
pub fn share(code: &str) -> String {
    format!("share:{code}")
}

/// `share_link:{video_id}:{user_id}` — a member's short-link code for a video.
pub fn share_link(video_id: &str, user_id: &str) -> String {
    format!("share_link:{video_id}:{user_id}")
}

/// `recent:{scope}:{page}` — one page of recently published video ids.
pub fn recent_videos_page(scope: &str, page: u64) -> String {
    format!("recent:{scope}:{page}")
}

/// `recent:{scope}:head` — newest page of the recent videos index (a hint).
pub fn recent_videos_head(scope: &str) -> String {
    format!("recent:{scope}:head")
}

/// `creator_videos:{user_id}:{page}` — one page of a creator's video ids.
pub fn creator_videos_page(user_id: &str, page: u64) -> String {
    format!("creator_videos:{user_id}:{page}")
}

/// `creator_videos:{user_id}:head` — newest page of a creator's videos (a hint).
pub fn creator_videos_head(user_id: &str) -> String {
    format!("creator_videos:{user_id}:head")
}

/// `remix_count:{video_id}` — how many published videos remix this one.
pub fn remix_count(video_id: &str) -> String {
    format!("remix_count:{video_id}")
}

/// `vstat:{video_id}:{metric}` — one feed signal counter of a video.
pub fn video_stat(video_id: &str, metric: &str) -> String {
    format!("vstat:{video_id}:{metric}")
}

/// `feed_profile:{user_id}` — a viewer's learned affinities.
pub fn feed_profile(user_id: &str) -> String {
    format!("feed_profile:{user_id}")
}

/// `feed_seen:{user_id}` — what a viewer's For You already showed.
pub fn feed_seen(user_id: &str) -> String {
    format!("feed_seen:{user_id}")
}

/// `feed_batch:{user_id}:{batch_id}` — an event batch already counted.
pub fn feed_batch(user_id: &str, batch_id: &str) -> String {
    format!("feed_batch:{user_id}:{batch_id}")
}

/// `embedding:{draft_id}` — a draft's (and so its video's) prompt embedding.
pub fn prompt_embedding(draft_id: &str) -> String {
    format!("embedding:{draft_id}")
}

/// `caption_embedding:{video_id}` — a published video's caption embedding.
pub fn caption_embedding(video_id: &str) -> String {
    format!("caption_embedding:{video_id}")
}

/// `sim_bucket:{table}:{bucket}` — recent videos of one similarity bucket.
pub fn sim_bucket(table: usize, bucket: u32) -> String {
    format!("sim_bucket:{table}:{bucket}")
}

/// `rights:{id}` — a rights registry entry.
pub fn rights(id: &str) -> String {
    format!("rights:{id}")
}

/// `rights_list:{owner}:{page}` — one page of registry entry ids (owner `all`).
pub fn rights_list_page(owner: &str, page: u64) -> String {
    format!("rights_list:{owner}:{page}")
}

/// `rights_list:{owner}:head` — newest registry page (a hint).
pub fn rights_list_head(owner: &str) -> String {
    format!("rights_list:{owner}:head")
}

/// `rights_word:{skeleton}` — registry names filed under one normalised word.
pub fn rights_word(skeleton: &str) -> String {
    format!("rights_word:{skeleton}")
}

/// `report:{id}` — a report.
pub fn report(id: &str) -> String {
    format!("report:{id}")
}

/// `reports_open:{owner}:{page}` — one page of the open-report queue (owner `open`).
pub fn reports_open_page(owner: &str, page: u64) -> String {
    format!("reports_open:{owner}:{page}")
}

/// `reports_open:{owner}:head` — newest queue page (a hint).
pub fn reports_open_head(owner: &str) -> String {
    format!("reports_open:{owner}:head")
}

/// `report_claim:{reporter}:{type}:{target}` — a reporter's open report on a target.
pub fn report_claim(reporter_id: &str, target_type: &str, target_id: &str) -> String {
    format!("report_claim:{reporter_id}:{target_type}:{target_id}")
}

/// `feed_time:{user_id}:{day}` — an under-18's watched ms on one UTC day.
pub fn feed_time(user_id: &str, day: &str) -> String {
    format!("feed_time:{user_id}:{day}")
}

/// `cameo:{user_id}` — a member's cameo.
pub fn cameo(user_id: &str) -> String {
    format!("cameo:{user_id}")
}

/// `cameo_grant:{owner}:{grantee}` — whether `grantee` may cast `owner`.
pub fn cameo_grant(owner: &str, grantee: &str) -> String {
    format!("cameo_grant:{owner}:{grantee}")
}

/// `cameo_asks_in:{owner}:{page}` — who asked to cast `owner`.
pub fn cameo_asks_in_page(owner: &str, page: u64) -> String {
    format!("cameo_asks_in:{owner}:{page}")
}

/// `cameo_asks_in:{owner}:head` — newest page of [`cameo_asks_in_page`] (a hint).
pub fn cameo_asks_in_head(owner: &str) -> String {
    format!("cameo_asks_in:{owner}:head")
}

/// `cameo_asks_out:{grantee}:{page}` — whom a member asked.
pub fn cameo_asks_out_page(grantee: &str, page: u64) -> String {
    format!("cameo_asks_out:{grantee}:{page}")
}

/// `cameo_asks_out:{grantee}:head` — newest page of [`cameo_asks_out_page`] (a hint).
pub fn cameo_asks_out_head(grantee: &str) -> String {
    format!("cameo_asks_out:{grantee}:head")
}

/// `appearances:{owner}:{page}` — drafts that cast `owner`.
pub fn appearances_page(owner: &str, page: u64) -> String {
    format!("appearances:{owner}:{page}")
}

/// `appearances:{owner}:head` — newest page of [`appearances_page`] (a hint).
pub fn appearances_head(owner: &str) -> String {
    format!("appearances:{owner}:head")
}

/// `avatar_upload:{user_id}` — the member's pending avatar upload.
pub fn avatar_upload(user_id: &str) -> String {
    format!("avatar_upload:{user_id}")
}

/// `deleted_user:{user_id}` — a deleted account's tombstone and erasure progress.
pub fn deleted_user(user_id: &str) -> String {
    format!("deleted_user:{user_id}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_follow_the_documented_prefixes() {
        assert_eq!(super::user("01ABC"), "user:01ABC");
        assert_eq!(super::handle("ana_lima"), "handle:ana_lima");
        assert_eq!(super::invite("ABCDEFGHJK"), "invite:ABCDEFGHJK");
        assert_eq!(super::health_probe(), "health:probe");
        assert_eq!(super::draft("01D"), "draft:01D");
        assert_eq!(super::drafts_page("01U", 3), "drafts:01U:3");
        assert_eq!(super::drafts_head("01U"), "drafts:01U:head");
        assert_eq!(super::video("01V"), "video:01V");
        assert_eq!(super::remixes_page("01V", 0), "remixes:01V:0");
        assert_eq!(super::remixes_head("01V"), "remixes:01V:head");
        assert_eq!(
            super::generation_quota("01U", "2025-01-01"),
            "gen_quota:01U:2025-01-01"
        );
        assert_eq!(
            super::generation_idempotency("01U", "ab"),
            "gen_idem:01U:ab"
        );
        assert_eq!(super::callback_nonce("00ff"), "callback_nonce:00ff");
        assert_eq!(super::follow("01A", "01B"), "follow:01A:01B");
        assert_eq!(super::following_page("01A", 2), "following:01A:2");
        assert_eq!(super::followers_head("01A"), "followers:01A:head");
        assert_eq!(super::followers_count("01A"), "followers_count:01A");
        assert_eq!(super::block("01A", "01B"), "block:01A:01B");
        assert_eq!(super::blocks_page("01A", 0), "blocks:01A:0");
    }
}
