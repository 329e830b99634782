// Drives the web client in headless Chromium for tests/web.rs: one member
// signs up, generates, publishes; a second (a verified cameo, prepared over
// the API by the Rust test) watches, likes and comments, then hears live
// that the first cast them. Every page gets a screenshot and an axe-core
// check (WCAG 2.1 A/AA: labels, contrast, names, focus); any violation,
// Content-Security-Policy report or page error fails the run.
//
// Environment: DREAMREEL_URL, INVITE_CODE, CAMEO_HANDLE, PASSWORD,
// SCREENSHOTS (a folder), CHROMIUM (the browser binary).

import { readFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
const { chromium } = require("playwright-core");
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const base = env("DREAMREEL_URL");
const invite = env("INVITE_CODE");
const cameoHandle = env("CAMEO_HANDLE");
const password = env("PASSWORD");
const shots = env("SCREENSHOTS");
mkdirSync(shots, { recursive: true });

const problems = [];
const step = (what) => console.log(`[web] ${what}`);

/** Screenshot, then axe on the page as it stands; violations are collected. */
async function check(page, name) {
  await page.screenshot({ path: path.join(shots, `${name}.png`) });
  // Runtime evaluation is not subject to the page's CSP, so axe needs no inline script.
  await page.evaluate(axeSource);
  const result = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }),
  );
  for (const v of result.violations) {
    problems.push(`${name}: ${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  }
  step(`${name}: screenshot saved, ${result.violations.length} accessibility violations`);
}

/** Keyboard focus is always visible: tab a few times, each focused element has an outline. */
async function checkFocus(page, name, tabs = 4) {
  for (let i = 0; i < tabs; i++) {
    await page.keyboard.press("Tab");
    const seen = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return { tag: "body", visible: true };
      const s = getComputedStyle(el);
      return { tag: el.tagName + (el.id ? `#${el.id}` : ""), visible: s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0 };
    });
    if (!seen.visible) problems.push(`${name}: focus on ${seen.tag} is not visible`);
  }
}

function watchErrors(page, who) {
  page.on("pageerror", (e) => problems.push(`${who}: page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy|Refused to/i.test(m.text())) {
      problems.push(`${who}: ${m.text()}`);
    }
  });
}

const browser = await chromium.launch({
  executablePath: env("CHROMIUM"),
  args: ["--no-sandbox", "--autoplay-policy=no-user-gesture-required", "--mute-audio"],
});
const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, hasTouch: false };
let videoId;
try {
  // ---- the maker: sign up, generate, see it ready, publish ----
  const maker = await browser.newContext(phone);
  const a = await maker.newPage();
  watchErrors(a, "maker");
  await a.goto(`${base}/`);
  await a.waitForURL(/#\/signup$/);
  await check(a, "01-signup");
  await checkFocus(a, "signup");
  await a.getByLabel("Invite code").fill(invite);
  await a.getByLabel("Handle").fill("webmaker");
  await a.getByLabel("Password").fill(password);
  await a.getByLabel("Birth date").fill("1990-06-15");
  await a.getByLabel("Country").selectOption("US");
  await a.getByRole("button", { name: "Sign up" }).click();
  await a.waitForURL(/#\/feed$/);
  step("signed up");

  await a.goto(`${base}/#/create`);
  await a.getByLabel("Prompt").waitFor();
  await check(a, "02-create");
  await a.getByLabel("Prompt").fill("a red kite over green hills at dawn");
  await a.getByLabel(/^Duration/).fill("2");
  await a.getByRole("button", { name: "Generate" }).click();
  await a.waitForURL(/#\/draft\//);
  await a.locator(".draft-status").waitFor();
  await check(a, "03-draft-progress");
  await a.locator(".draft-status", { hasText: "ready" }).waitFor({ timeout: 180_000 });
  await a.locator("video.preview").waitFor();
  await check(a, "04-draft-ready");
  step("the draft is ready");
  await a.getByLabel("Caption").fill("kite at dawn");
  await a.getByRole("button", { name: "Publish" }).click();
  await a.waitForURL(/#\/profile$/);
  await a.locator(".grid video").first().waitFor();
  await check(a, "05-profile");
  step("published");
  await a.goto(`${base}/#/drafts`);
  await a.locator(".list li").first().waitFor();
  await check(a, "06-drafts");

  // ---- the viewer: log in, watch it play, double-tap to like, comment ----
  const viewer = await browser.newContext(phone);
  const b = await viewer.newPage();
  watchErrors(b, "viewer");
  await b.goto(`${base}/#/login`);
  await b.getByLabel("Handle").waitFor();
  await check(b, "07-login");
  await b.getByLabel("Handle").fill(cameoHandle);
  await b.getByLabel("Password").fill(password);
  await b.getByRole("button", { name: "Log in" }).click();
  await b.waitForURL(/#\/feed$/);
  const slide = b.locator('article[aria-label="@webmaker"]').first();
  await slide.waitFor({ timeout: 30_000 });
  videoId = await slide.getAttribute("data-video-id");
  const played = await slide.locator("video").evaluate(
    (v) =>
      new Promise((resolve) => {
        const start = v.currentTime;
        const deadline = Date.now() + 20_000;
        const tick = () => {
          if (v.currentTime > start + 0.3) resolve({ ok: true, t: v.currentTime, muted: v.muted });
          else if (Date.now() > deadline) resolve({ ok: false, t: v.currentTime, error: v.error?.message, state: v.readyState });
          else setTimeout(tick, 100);
        };
        tick();
      }),
  );
  if (!played.ok) throw new Error(`the clip does not play in the feed: ${JSON.stringify(played)}`);
  if (!played.muted) problems.push("feed: the clip starts with sound; it must start muted");
  step(`the clip plays in the feed (currentTime ${played.t.toFixed(2)} s)`);
  await check(b, "08-feed");

  await slide.locator("video").dblclick();
  await slide.getByRole("button", { name: "Like" }).and(b.locator('[aria-pressed="true"]')).waitFor();
  step("double-tap liked it");
  await slide.getByRole("button", { name: "Comments" }).click();
  await b.getByLabel("Add a comment").fill("what a view!");
  await b.getByRole("button", { name: "Post" }).click();
  await b.locator(".comments li", { hasText: "what a view!" }).waitFor();
  await check(b, "09-comments");
  await b.getByRole("button", { name: "Close" }).click();
  step("commented");

  await b.goto(`${base}/#/cameo`);
  await b.getByLabel("Who may cast me").waitFor();
  await check(b, "10-cameo");
  await b.goto(`${base}/#/notifications`);
  await b.locator("h1", { hasText: "Notifications" }).waitFor();
  await b.waitForTimeout(500);

  // ---- the maker casts the viewer; the viewer's open page hears it live ----
  const before = await b.locator('.notifications li[data-kind^="cameo"]').count();
  await a.goto(`${base}/#/create`);
  await a.getByLabel("Prompt").fill(`@${cameoHandle} waving hello`);
  await a.getByLabel(/^Duration/).fill("1");
  await a.getByLabel(/^Cameos/).fill(cameoHandle);
  await a.getByRole("button", { name: "Generate" }).click();
  await a.waitForURL(/#\/draft\//);
  await b.locator('.notifications li[data-kind^="cameo"]').nth(before).waitFor({ timeout: 30_000 });
  step("the cameo notification arrived live");
  await check(b, "11-notifications-live");
} finally {
  await browser.close();
}

console.log(JSON.stringify({ video_id: videoId, problems }));
if (problems.length) {
  console.error(`[web] ${problems.length} problems:\n${problems.join("\n")}`);
  process.exit(1);
}
