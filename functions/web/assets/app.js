// Dreamreel's web client: a hash-routed single page over the /v1 API.
// No framework: each page is a function that fills <main>.

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const statusBox = document.getElementById("status");
const unreadBadge = document.getElementById("unread");

let token = localStorage.getItem("dreamreel.token");
let stream = null;
let onNotification = null;

// ---------- helpers ----------

/** Builds an element: h("button", {class: "x", onclick}, "text", child). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

function say(text) {
  statusBox.textContent = text;
  clearTimeout(say.timer);
  say.timer = setTimeout(() => (statusBox.textContent = ""), 4000);
}

class ApiFailure extends Error {}

/** Calls the API; JSON in and out; errors carry the server's message. */
async function api(method, path, body) {
  const headers = { accept: "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (resp.status === 401 && token) {
    signOut();
    throw new ApiFailure("Your session ended; log in again.");
  }
  const data = resp.status === 204 ? null : await resp.json().catch(() => null);
  if (!resp.ok) throw new ApiFailure(data?.error?.message || `Request failed (${resp.status})`);
  return data;
}

/** Runs an async action, reporting a failure in `where` (or the status line). */
async function attempt(action, where) {
  try {
    return await action();
  } catch (e) {
    if (where) where.textContent = e.message;
    else say(e.message);
    return undefined;
  }
}

function field(label, input) {
  const id = input.id || `f-${label.toLowerCase().replace(/\W+/g, "-")}`;
  input.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), input);
}

function page(title, ...children) {
  main.replaceChildren(h("h1", { class: "title" }, title), ...children);
  document.title = `${title} · Dreamreel`;
}

function when(iso) {
  return new Date(iso).toLocaleString();
}

// ---------- session ----------

function signIn(session) {
  token = session.token;
  localStorage.setItem("dreamreel.token", token);
  localStorage.setItem("dreamreel.handle", session.user.handle);
  openStream();
  location.hash = "#/feed";
}

function signOut() {
  token = null;
  localStorage.removeItem("dreamreel.token");
  localStorage.removeItem("dreamreel.handle");
  stream?.close();
  stream = null;
  location.hash = "#/login";
}

/** The live notification stream; EventSource cannot send headers, so the token rides in the query. */
function openStream() {
  if (!token || stream) return;
  stream = new EventSource(`/v1/notifications/stream?access_token=${encodeURIComponent(token)}`);
  stream.addEventListener("notification", (ev) => {
    const n = JSON.parse(ev.data);
    refreshUnread();
    say(n.summary);
    onNotification?.(n);
  });
  refreshUnread();
}

async function refreshUnread() {
  const data = await api("GET", "/v1/notifications/unread").catch(() => null);
  const n = data?.unread ?? 0;
  unreadBadge.textContent = n ? String(n) : "";
}

// ---------- pages ----------

function signupPage() {
  const error = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    {
      onsubmit: async (ev) => {
        ev.preventDefault();
        const f = new FormData(form);
        const session = await attempt(
          () =>
            api("POST", "/v1/auth/signup", {
              invite_code: f.get("invite_code").trim(),
              handle: f.get("handle").trim(),
              password: f.get("password"),
              birth_date: f.get("birth_date"),
              country: f.get("country"),
            }),
          error,
        );
        if (session) signIn(session);
      },
    },
    field("Invite code", h("input", { name: "invite_code", required: true, autocomplete: "off" })),
    field("Handle", h("input", { name: "handle", required: true, autocomplete: "username", pattern: "[A-Za-z0-9_]{3,30}" })),
    field("Password", h("input", { name: "password", type: "password", required: true, minlength: "10", autocomplete: "new-password" })),
    field("Birth date", h("input", { name: "birth_date", type: "date", required: true })),
    field(
      "Country",
      h("select", { name: "country", required: true }, h("option", { value: "US" }, "United States"), h("option", { value: "CA" }, "Canada")),
    ),
    h("button", { type: "submit", class: "primary" }, "Sign up"),
    error,
  );
  page("Join Dreamreel", form, h("p", {}, "Have an account? ", h("a", { href: "#/login" }, "Log in")));
}

function loginPage() {
  const error = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    {
      onsubmit: async (ev) => {
        ev.preventDefault();
        const f = new FormData(form);
        const session = await attempt(
          () => api("POST", "/v1/auth/login", { handle: f.get("handle").trim(), password: f.get("password") }),
          error,
        );
        if (session) signIn(session);
      },
    },
    field("Handle", h("input", { name: "handle", required: true, autocomplete: "username" })),
    field("Password", h("input", { name: "password", type: "password", required: true, autocomplete: "current-password" })),
    h("button", { type: "submit", class: "primary" }, "Log in"),
    error,
  );
  page("Log in", form, h("p", {}, "New here? ", h("a", { href: "#/signup" }, "Sign up with an invite")));
}

// The feed: one full-screen slide per clip, snap-scrolled. The visible clip
// plays (muted until the viewer taps); the next ones preload as much as the
// feed's prefetch probability says they are worth.
async function feedPage() {
  const list = h("div", { class: "feed", role: "feed", "aria-label": "For You" });
  main.replaceChildren(h("h1", { class: "visually-hidden" }, "For You"), list);
  document.title = "For You · Dreamreel";
  let cursor = null;
  let loading = false;
  let muted = true;
  const slides = [];

  const observer = new IntersectionObserver(
    (entries) => {
      for (const entry of entries) {
        const video = entry.target.querySelector("video");
        if (entry.isIntersecting) {
          video.muted = muted;
          video.play().catch(() => {});
          const i = slides.indexOf(entry.target);
          // The next clip always loads; the one after only if the feed thinks it likely to be watched.
          slides.slice(i + 1, i + 3).forEach((s, k) => {
            if (k === 0 || Number(s.dataset.prefetch) >= 0.3) s.querySelector("video").preload = "auto";
          });
          if (i >= slides.length - 3) more();
        } else {
          video.pause();
        }
      }
    },
    { threshold: 0.6 },
  );

  async function more() {
    if (loading || cursor === undefined) return;
    loading = true;
    const q = cursor ? `?cursor=${encodeURIComponent(cursor)}` : "";
    const data = await attempt(() => api("GET", `/v1/feed/for-you${q}`));
    loading = false;
    if (!data) return;
    cursor = data.next_cursor ?? undefined;
    for (const item of data.items) {
      const s = slide(item);
      slides.push(s);
      list.append(s);
      observer.observe(s);
    }
    if (!slides.length) {
      list.append(h("p", { class: "empty" }, "Nothing to watch yet. ", h("a", { href: "#/create" }, "Make the first clip")));
    }
  }

  function slide(item) {
    const v = item.video;
    const video = h("video", {
      src: v.media.video_url,
      poster: v.media.thumbnail_url,
      loop: true,
      muted: true,
      playsinline: true,
      // A likely next clip loads fully ahead of time; an unlikely one only its header.
      preload: item.prefetch >= 0.5 ? "auto" : "metadata",
      "aria-label": `Clip by @${v.owner_handle}: ${v.caption || v.prompt}`,
    });
    video.muted = true;
    const likeCount = h("span", {}, item.counts.likes);
    const likeBtn = h("button", { class: "act", "aria-pressed": String(item.liked_by_me), "aria-label": "Like" }, "♥ ", likeCount);
    const commentCount = h("span", {}, item.counts.comments);
    const soundBtn = h("button", { class: "sound", "aria-label": "Unmute" }, "Sound off: tap to unmute");

    async function like(on) {
      const state = await attempt(() => api(on ? "PUT" : "DELETE", `/v1/videos/${v.id}/like`));
      if (!state) return;
      likeBtn.setAttribute("aria-pressed", String(state.liked));
      likeCount.textContent = state.like_count;
    }
    function toggleSound() {
      muted = !muted;
      video.muted = muted;
      soundBtn.textContent = muted ? "Sound off: tap to unmute" : "Sound on: tap to mute";
      soundBtn.setAttribute("aria-label", muted ? "Unmute" : "Mute");
      if (!muted) video.play().catch(() => {});
    }
    likeBtn.addEventListener("click", () => like(likeBtn.getAttribute("aria-pressed") !== "true"));
    soundBtn.addEventListener("click", toggleSound);
    // One tap toggles sound; two quick taps like (and keep the sound as it was).
    let tapTimer = null;
    video.addEventListener("click", () => {
      if (tapTimer) {
        clearTimeout(tapTimer);
        tapTimer = null;
        like(true);
        heart.classList.remove("pop");
        void heart.offsetWidth;
        heart.classList.add("pop");
        return;
      }
      tapTimer = setTimeout(() => {
        tapTimer = null;
        toggleSound();
      }, 280);
    });
    const heart = h("div", { class: "heart", "aria-hidden": "true" }, "♥");
    const watched = { started: 0 };
    video.addEventListener("playing", () => (watched.started = performance.now()));
    video.addEventListener("pause", () => {
      const ms = Math.min(120000, Math.round(performance.now() - watched.started));
      if (watched.started && ms > 0) api("POST", "/v1/events", { events: [{ type: "watch", video_id: v.id, watch_ms: ms }] }).catch(() => {});
      watched.started = 0;
    });

    const el = h(
      "article",
      { class: "slide", "aria-label": `@${v.owner_handle}`, "data-video-id": v.id, "data-prefetch": String(item.prefetch) },
      video,
      heart,
      soundBtn,
      h(
        "div",
        { class: "overlay" },
        h("a", { class: "creator", href: `#/u/${encodeURIComponent(v.owner_handle)}` }, `@${v.owner_handle}`),
        h("p", { class: "caption" }, v.caption || v.prompt),
        item.remix_source ? h("p", { class: "remix-of" }, `Remix of @${item.remix_source.owner_handle ?? "a clip"}`) : null,
      ),
      h(
        "div",
        { class: "actions" },
        likeBtn,
        h("button", { class: "act", "aria-label": "Comments", onclick: () => comments(v.id, commentCount) }, "✎ ", commentCount),
        h("button", { class: "act", "aria-label": "Share", onclick: () => share(v.id) }, "↗ ", h("span", {}, item.counts.shares)),
        h("a", { class: "act", href: `#/create?remix=${encodeURIComponent(v.id)}`, "aria-label": "Remix" }, "⟳ ", h("span", {}, item.counts.remixes)),
      ),
    );
    return el;
  }

  more();
}

async function share(videoId) {
  const s = await attempt(() => api("POST", `/v1/videos/${videoId}/share`));
  if (!s) return;
  if (navigator.share) navigator.share({ url: s.url }).catch(() => {});
  else navigator.clipboard?.writeText(s.url).catch(() => {});
  say(`Share link: ${s.url}`);
}

/** The comment sheet of a video, as a modal dialog. */
async function comments(videoId, countEl) {
  const list = h("ul", { class: "comments" });
  const error = h("p", { class: "error", role: "alert" });
  const input = h("input", { name: "text", required: true, maxlength: "500", autocomplete: "off" });
  const dialog = h(
    "dialog",
    { class: "sheet", "aria-labelledby": "comments-title" },
    h("h2", { id: "comments-title" }, "Comments"),
    list,
    h(
      "form",
      {
        onsubmit: async (ev) => {
          ev.preventDefault();
          const c = await attempt(() => api("POST", `/v1/videos/${videoId}/comments`, { text: input.value }), error);
          if (!c) return;
          input.value = "";
          list.prepend(commentItem(c));
          countEl.textContent = Number(countEl.textContent) + 1;
        },
      },
      field("Add a comment", input),
      h("button", { type: "submit", class: "primary" }, "Post"),
      error,
    ),
    h("button", { type: "button", class: "close", onclick: () => dialog.close() }, "Close"),
  );
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  const page = await attempt(() => api("GET", `/v1/videos/${videoId}/comments`), error);
  page?.comments.forEach((c) => list.append(commentItem(c)));
}

function commentItem(c) {
  return h("li", {}, h("strong", {}, `@${c.author_handle}`), " ", c.text);
}

async function createPage(params) {
  const error = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    {
      onsubmit: async (ev) => {
        ev.preventDefault();
        const f = new FormData(form);
        const body = { prompt: f.get("prompt").trim(), duration_seconds: Number(f.get("duration")) };
        const cast = f.get("cameos").split(/[\s,]+/).map((s) => s.replace(/^@/, "")).filter(Boolean);
        if (cast.length) body.cameos = cast;
        const remix = f.get("remix").trim();
        if (remix) body.remix_of = remix;
        const draft = await attempt(() => api("POST", "/v1/generations", body), error);
        if (draft) location.hash = `#/draft/${draft.id}`;
      },
    },
    field("Prompt", h("textarea", { name: "prompt", required: true, rows: "3", maxlength: "1000" })),
    field("Duration (seconds, up to 10)", h("input", { name: "duration", type: "number", min: "1", max: "10", value: "4", required: true })),
    field("Cameos (handles, comma separated)", h("input", { name: "cameos", autocomplete: "off" })),
    field("Remix of (video id)", h("input", { name: "remix", value: params.get("remix") || "", autocomplete: "off" })),
    h("button", { type: "submit", class: "primary" }, "Generate"),
    error,
  );
  page("Create", form);
}

/** One draft: live progress while the job runs, then the preview and publish. */
async function draftPage(id) {
  const box = h("div", { class: "draft" });
  page("Draft", box);
  const token0 = token;
  for (;;) {
    const d = await attempt(() => api("GET", `/v1/drafts/${id}`), box);
    if (!d || location.hash !== `#/draft/${id}` || token !== token0) return;
    box.replaceChildren(...draftView(d));
    if (d.status !== "queued" && d.status !== "running") return;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function draftView(d) {
  const out = [h("p", { class: "prompt" }, d.prompt), h("p", {}, "Status: ", h("strong", { class: "draft-status" }, d.status))];
  if (d.status === "queued" || d.status === "running") {
    const pct = Math.round((d.progress ?? 0) * 100);
    out.push(h("label", { for: "progress" }, `Generating${d.stage ? ` (${d.stage})` : ""}: ${pct}%`));
    out.push(h("progress", { id: "progress", max: "100", value: String(pct) }, `${pct}%`));
  } else if (d.status === "ready" && !d.video_id) {
    const error = h("p", { class: "error", role: "alert" });
    const caption = h("input", { name: "caption", maxlength: "300" });
    out.push(h("video", { class: "preview", src: d.media.video_url, poster: d.media.thumbnail_url, controls: true, playsinline: true, "aria-label": "Preview" }));
    out.push(
      h(
        "form",
        {
          onsubmit: async (ev) => {
            ev.preventDefault();
            const v = await attempt(() => api("POST", `/v1/drafts/${d.id}/publish`, { caption: caption.value }), error);
            if (v) {
              say("Published");
              location.hash = "#/profile";
            }
          },
        },
        field("Caption", caption),
        h("button", { type: "submit", class: "primary" }, "Publish"),
        error,
      ),
    );
  } else if (d.video_id) {
    out.push(h("p", {}, "Published. ", h("a", { href: "#/profile" }, "See it on your profile")));
  } else if (d.failure) {
    out.push(h("p", { class: "error" }, d.failure.reason || d.failure.code));
  }
  return out;
}

async function draftsPage() {
  const list = h("ul", { class: "list" });
  page("Drafts", list);
  const data = await attempt(() => api("GET", "/v1/drafts"));
  if (!data) return;
  if (!data.drafts.length) list.append(h("li", {}, "No drafts yet."));
  for (const d of data.drafts) {
    list.append(h("li", {}, h("a", { href: `#/draft/${d.id}` }, d.prompt), " — ", d.status));
  }
}

async function profilePage(handle) {
  const me = handle ? null : await attempt(() => api("GET", "/v1/me"));
  handle = handle || me?.handle;
  if (!handle) return;
  const [profile, videos] = await Promise.all([
    attempt(() => api("GET", `/v1/users/${encodeURIComponent(handle)}`)),
    attempt(() => api("GET", `/v1/users/${encodeURIComponent(handle)}/videos`)),
  ]);
  if (!profile) return;
  const grid = h("ul", { class: "grid", "aria-label": "Videos" });
  for (const item of videos?.items ?? videos?.videos ?? []) {
    const v = item.video ?? item;
    grid.append(
      h("li", {}, h("video", { src: v.media.video_url, poster: v.media.thumbnail_url, controls: true, preload: "none", playsinline: true, "aria-label": v.caption || v.prompt })),
    );
  }
  const actions = [];
  if (me) {
    actions.push(h("button", { type: "button", onclick: () => api("POST", "/v1/auth/logout").finally(signOut) }, "Log out"));
  } else if (profile.relation) {
    const following = !!profile.relation.following;
    actions.push(
      h(
        "button",
        {
          type: "button",
          "aria-pressed": String(following),
          onclick: async () => {
            await attempt(() => api(following ? "DELETE" : "PUT", `/v1/users/${encodeURIComponent(handle)}/follow`));
            profilePage(handle);
          },
        },
        following ? "Following" : "Follow",
      ),
    );
  }
  page(
    `@${profile.handle}`,
    h("p", {}, profile.display_name || ""),
    h("p", {}, profile.bio || ""),
    h("p", {}, `${profile.followers_count} followers · ${profile.following_count} following`),
    ...actions,
    h("h2", {}, "Videos"),
    grid,
  );
}

async function cameoPage() {
  const [cameo, incoming, appearances] = await Promise.all([
    attempt(() => api("GET", "/v1/cameo")),
    attempt(() => api("GET", "/v1/cameo/requests")),
    attempt(() => api("GET", "/v1/cameo/appearances")),
  ]);
  if (!cameo) return;
  const error = h("p", { class: "error", role: "alert" });
  const perm = h(
    "select",
    { name: "permission" },
    ...[
      ["only_me", "Only me"],
      ["approved", "People I approve"],
      ["mutuals", "Mutual follows"],
      ["everyone", "Everyone"],
    ].map(([v, label]) => h("option", { value: v, selected: cameo.permission === v }, label)),
  );
  const instructions = h("textarea", { name: "instructions", rows: "3", maxlength: "1000" });
  instructions.value = cameo.instructions ?? "";
  const settings = h(
    "form",
    {
      onsubmit: async (ev) => {
        ev.preventDefault();
        const r = await attempt(() => api("PUT", "/v1/cameo/settings", { permission: perm.value, instructions: instructions.value }), error);
        if (r) say("Cameo settings saved");
      },
    },
    field("Who may cast me", perm),
    field("Instructions", instructions),
    h("button", { type: "submit", class: "primary" }, "Save"),
    error,
  );
  const verify = h("button", {
    type: "button",
    onclick: async () => {
      const c = await attempt(() => api("POST", "/v1/cameo/verification"));
      if (c) say(`Say ${c.digits} and turn your head, then upload the recording from the app.`);
    },
  }, cameo.status === "verified" ? "Verify again" : "Start verification");

  const requests = h("ul", { class: "list" });
  for (const r of incoming?.requests ?? []) {
    requests.append(
      h(
        "li",
        {},
        `@${r.handle}${r.note ? `: ${r.note}` : ""} (${r.state}) `,
        h("button", { type: "button", onclick: () => attempt(() => api("POST", `/v1/cameo/requests/${r.handle}/approve`)).then(cameoPage) }, `Approve @${r.handle}`),
        h("button", { type: "button", onclick: () => attempt(() => api("POST", `/v1/cameo/requests/${r.handle}/deny`)).then(cameoPage) }, `Deny @${r.handle}`),
      ),
    );
  }
  if (!requests.children.length) requests.append(h("li", {}, "No requests."));

  const ask = h("input", { name: "ask", autocomplete: "off" });
  const askForm = h(
    "form",
    {
      onsubmit: async (ev) => {
        ev.preventDefault();
        const r = await attempt(() => api("POST", "/v1/cameo/requests", { handle: ask.value.replace(/^@/, "").trim() }), error);
        if (r) say(`Asked @${r.handle}`);
      },
    },
    field("Ask someone to cast them (handle)", ask),
    h("button", { type: "submit" }, "Ask"),
  );

  const apps = h("ul", { class: "list" });
  for (const a of appearances?.appearances ?? []) {
    apps.append(
      h(
        "li",
        {},
        `@${a.maker_handle}: ${a.prompt} (${a.state}) `,
        a.state !== "taken_down"
          ? h("button", { type: "button", onclick: () => attempt(() => api("POST", `/v1/cameo/appearances/${a.id}/take-down`)).then(cameoPage) }, "Take down")
          : null,
      ),
    );
  }
  if (!apps.children.length) apps.append(h("li", {}, "Nobody has cast you yet."));

  page(
    "Cameo",
    h("p", {}, "Status: ", h("strong", {}, cameo.status), cameo.refusal ? ` — ${cameo.refusal}` : ""),
    verify,
    h("h2", {}, "Settings"),
    settings,
    h("h2", {}, "Requests"),
    requests,
    askForm,
    h("h2", {}, "Appearances"),
    apps,
  );
}

async function notificationsPage() {
  const list = h("ul", { class: "list notifications", "aria-live": "polite" });
  page("Notifications", list);
  const item = (n) =>
    h("li", { class: n.read ? "" : "unread", "data-kind": n.kind }, n.summary, n.text ? h("q", {}, n.text) : null, h("br"), h("small", {}, when(n.updated_at)));
  onNotification = (n) => {
    list.querySelector(`[data-id="${n.id}"]`)?.remove();
    const li = item(n);
    li.dataset.id = n.id;
    list.prepend(li);
    // Seen as it arrives: this page is open.
    api("POST", "/v1/notifications/read", { up_to_seq: n.seq }).then(refreshUnread, () => {});
  };
  const data = await attempt(() => api("GET", "/v1/notifications"));
  if (!data) return;
  for (const n of data.notifications) {
    const li = item(n);
    li.dataset.id = n.id;
    list.append(li);
  }
  const top = Math.max(0, ...data.notifications.map((n) => n.seq));
  if (top) await api("POST", "/v1/notifications/read", { up_to_seq: top }).catch(() => {});
  refreshUnread();
}

// ---------- routing ----------

const routes = [
  [/^#\/signup$/, signupPage, false],
  [/^#\/login$/, loginPage, false],
  [/^#\/feed$/, feedPage, true],
  [/^#\/create$/, createPage, true],
  [/^#\/draft\/([\w-]+)$/, draftPage, true],
  [/^#\/drafts$/, draftsPage, true],
  [/^#\/profile$/, () => profilePage(null), true],
  [/^#\/u\/([\w%-]+)$/, (h) => profilePage(decodeURIComponent(h)), true],
  [/^#\/cameo$/, cameoPage, true],
  [/^#\/notifications$/, notificationsPage, true],
];

function render() {
  const [path, query] = location.hash.split("?");
  onNotification = null;
  document.querySelectorAll("dialog").forEach((d) => d.remove());
  for (const [re, show, needsSession] of routes) {
    const m = path.match(re);
    if (!m) continue;
    if (needsSession && !token) {
      location.hash = "#/login";
      return;
    }
    nav.hidden = !token;
    for (const a of nav.querySelectorAll("a")) {
      if (a.getAttribute("href") === path) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    show(m[1] ?? new URLSearchParams(query ?? ""));
    main.focus({ preventScroll: true });
    return;
  }
  location.hash = token ? "#/feed" : "#/signup";
}

window.addEventListener("hashchange", render);
openStream();
render();
