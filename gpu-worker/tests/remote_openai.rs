//! The remote OpenAI backend against a local server that follows the
//! provider's documented shapes: multipart create, video objects with
//! `status`/`progress`/`error`, `/content` downloads, DELETE, and error
//! bodies `{"error":{"code","message"}}` with 4xx/429/5xx statuses.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dreamreel_worker::backends::openai::{OpenAiModel, OpenAiSettings};
use dreamreel_worker::provenance::{Ink, Watermark};
use dreamreel_worker::{
    Aspect, GenerationSpec, ModelError, Progress, ReferenceImage, RenderError, RenderedClip, Stage,
    render_clip,
};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

mod common;

const KEY: &str = "sk-test-remote-key";
const VIDEO_ID: &str = "video_68d7512d07848190b3e45da0ecbebcde";

/// One scripted answer: status, extra headers, JSON body.
type Reply = (u16, Vec<(&'static str, String)>, Value);

/// What the fake provider answers, and what it saw.
#[derive(Default)]
struct Script {
    /// Answers to `POST /videos` before the normal one.
    create: VecDeque<Reply>,
    /// Answers to `GET /videos/{id}`; the last one repeats.
    polls: VecDeque<Reply>,
    /// The MP4 served at `/content`.
    content: Vec<u8>,
    /// "METHOD path" of every call, with when it arrived.
    calls: Vec<(String, Instant)>,
    /// The multipart text fields of the last create.
    fields: HashMap<String, String>,
    /// Its file parts: field name → (file name, content type, bytes).
    files: HashMap<String, (String, String, Vec<u8>)>,
    /// The download hangs for a minute before answering.
    stall_content: bool,
}

struct Fake {
    base: String,
    script: Arc<Mutex<Script>>,
    _shutdown: watch::Sender<bool>,
    _runtime: tokio::runtime::Runtime,
}

impl Fake {
    fn start(script: Script) -> Fake {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let script = Arc::new(Mutex::new(script));
        let (tx, rx) = watch::channel(false);
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let base = format!("http://{}/v1", listener.local_addr().unwrap());
        let s = script.clone();
        runtime.spawn(dreamreel_local::server::accept_loop(
            listener,
            "fake openai",
            rx,
            move |req: http::Request<hyper::body::Incoming>, _| {
                let script = s.clone();
                async move { answer(req, &script).await }
            },
        ));
        Fake {
            base,
            script,
            _shutdown: tx,
            _runtime: runtime,
        }
    }

    fn settings(&self) -> OpenAiSettings {
        let mut s = OpenAiSettings::new(KEY);
        s.base_url = self.base.clone();
        s.poll_interval = Duration::from_millis(20);
        s.request_timeout = Duration::from_secs(5);
        s.max_rate_limit_wait = Duration::from_secs(3);
        s.tries = 3;
        s
    }

    fn calls(&self) -> Vec<String> {
        let script = self.script.lock().unwrap();
        script.calls.iter().map(|(c, _)| c.clone()).collect()
    }

    fn count(&self, call: &str) -> usize {
        self.calls().iter().filter(|c| *c == call).count()
    }
}

fn video(status: &str, progress: u32) -> Reply {
    (
        200,
        Vec::new(),
        json!({
            "id": VIDEO_ID, "object": "video", "model": "sora-2", "status": status,
            "progress": progress, "created_at": 1_759_938_772, "size": "720x1280", "seconds": "4",
        }),
    )
}

fn error(status: u16, code: &str, message: &str) -> Reply {
    (
        status,
        Vec::new(),
        json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": code}}),
    )
}

fn respond((status, headers, body): Reply) -> http::Response<Full<Bytes>> {
    let mut res = http::Response::builder()
        .status(status)
        .header("content-type", "application/json");
    for (name, value) in headers {
        res = res.header(name, value);
    }
    res.body(Full::new(Bytes::from(body.to_string()))).unwrap()
}

async fn answer(
    req: http::Request<hyper::body::Incoming>,
    script: &Mutex<Script>,
) -> http::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    let path = parts.uri.path().to_owned();
    let call = format!("{} {path}", parts.method);
    let stall = {
        let mut script = script.lock().unwrap();
        script.calls.push((call.clone(), Instant::now()));
        script.stall_content && path.ends_with("/content")
    };
    if stall {
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
    let mut script = script.lock().unwrap();
    let auth = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    if auth != Some(&format!("Bearer {KEY}")) {
        return respond(error(401, "invalid_api_key", "Incorrect API key provided."));
    }
    let item = format!("/v1/videos/{VIDEO_ID}");
    match (parts.method.as_str(), path.as_str()) {
        ("POST", "/v1/videos") => {
            let content_type = parts.headers["content-type"].to_str().unwrap().to_owned();
            let Some((fields, files)) = multipart_parts(&content_type, &body) else {
                return respond(error(
                    400,
                    "invalid_multipart",
                    "Expected multipart/form-data.",
                ));
            };
            let complete = ["model", "prompt", "seconds", "size"]
                .iter()
                .all(|k| fields.contains_key(*k));
            // As documented: a reference image must be exactly the requested size.
            let reference_fits = files.get("input_reference").is_none_or(|(_, _, png)| {
                png_size(png).map(|(w, h)| format!("{w}x{h}")) == fields.get("size").cloned()
            });
            script.fields = fields;
            script.files = files;
            if let Some(reply) = script.create.pop_front() {
                return respond(reply);
            }
            if !complete {
                return respond(error(400, "missing_field", "A field is missing."));
            }
            if !reference_fits {
                return respond(error(
                    400,
                    "invalid_value",
                    "The reference image must match the requested width and height.",
                ));
            }
            respond(video("queued", 0))
        }
        ("GET", p) if p == item => {
            let reply = if script.polls.len() > 1 {
                script.polls.pop_front().unwrap()
            } else {
                script
                    .polls
                    .front()
                    .cloned()
                    .unwrap_or_else(|| video("completed", 100))
            };
            respond(reply)
        }
        ("GET", p) if p == format!("{item}/content") => http::Response::builder()
            .header("content-type", "video/mp4")
            .body(Full::new(Bytes::from(script.content.clone())))
            .unwrap(),
        ("DELETE", p) if p == item => respond((
            200,
            Vec::new(),
            json!({"id": VIDEO_ID, "object": "video.deleted", "deleted": true}),
        )),
        _ => respond(error(404, "not_found", "No such route.")),
    }
}

/// Text fields and file parts of a `multipart/form-data` body.
type Form = (
    HashMap<String, String>,
    HashMap<String, (String, String, Vec<u8>)>,
);

/// Parses a `multipart/form-data` body: every part between delimiter lines,
/// its headers, and its bytes (files are binary, so nothing assumes UTF-8).
fn multipart_parts(content_type: &str, body: &[u8]) -> Option<Form> {
    let boundary = content_type.strip_prefix("multipart/form-data; boundary=")?;
    let delimiter = format!("--{boundary}").into_bytes();
    let mut pieces = Vec::new();
    let mut rest = body;
    while let Some(at) = rest.windows(delimiter.len()).position(|w| w == delimiter) {
        pieces.push(&rest[..at]);
        rest = &rest[at + delimiter.len()..];
    }
    // Nothing before the first delimiter; the last one is closed with "--".
    if pieces.first() != Some(&&b""[..]) || rest != b"--\r\n" {
        return None;
    }
    let (mut fields, mut files) = (HashMap::new(), HashMap::new());
    for piece in &pieces[1..] {
        let piece = piece.strip_prefix(b"\r\n")?.strip_suffix(b"\r\n")?;
        let split = piece.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = std::str::from_utf8(&piece[..split]).ok()?;
        let value = piece[split + 4..].to_vec();
        let quoted = |key: &str| {
            head.split(&format!("{key}=\""))
                .nth(1)
                .and_then(|v| v.split('"').next())
                .map(str::to_owned)
        };
        let name = quoted("; name")?;
        match quoted("filename") {
            Some(filename) => {
                let content_type = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Type: "))?
                    .to_owned();
                files.insert(name, (filename, content_type, value));
            }
            None => {
                fields.insert(name, String::from_utf8(value).ok()?);
            }
        }
    }
    Some((fields, files))
}

/// A PNG's width and height, from its header chunk.
fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    let be = |at: usize| Some(u32::from_be_bytes(png.get(at..at + 4)?.try_into().ok()?));
    (png.get(..8)? == b"\x89PNG\r\n\x1a\n" && png.get(12..16)? == b"IHDR")
        .then_some((be(16)?, be(20)?))
}

/// Decodes an 8-bit RGB, non-interlaced PNG (any filter per row) to its
/// size and row-major pixels, checking every chunk's CRC.
fn png_rgb(png: &[u8]) -> (u32, u32, Vec<u8>) {
    use std::io::Read;
    let (width, height) = png_size(png).expect("a PNG header");
    let mut at = 8;
    let mut idat = Vec::new();
    while at < png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        let (kind, data) = (&png[at + 4..at + 8], &png[at + 8..at + 8 + len]);
        let crc = u32::from_be_bytes(png[at + 8 + len..at + 12 + len].try_into().unwrap());
        assert_eq!(
            crc,
            crc32fast::hash(&png[at + 4..at + 8 + len]),
            "chunk CRC"
        );
        match kind {
            b"IHDR" => assert_eq!(&data[8..], [8, 2, 0, 0, 0], "8-bit RGB"),
            b"IDAT" => idat.extend_from_slice(data),
            _ => {}
        }
        at += 12 + len;
    }
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..])
        .read_to_end(&mut raw)
        .unwrap();
    let row = width as usize * 3;
    assert_eq!(raw.len(), (row + 1) * height as usize);
    let mut rgb = vec![0u8; row * height as usize];
    for (y, line) in raw.chunks_exact(row + 1).enumerate() {
        for i in 0..row {
            let a = if i >= 3 { rgb[y * row + i - 3] } else { 0 };
            let b = if y > 0 { rgb[(y - 1) * row + i] } else { 0 };
            let c = if i >= 3 && y > 0 {
                rgb[(y - 1) * row + i - 3]
            } else {
                0
            };
            let predicted = match line[0] {
                0 => 0,
                1 => a,
                2 => b,
                3 => ((u16::from(a) + u16::from(b)) / 2) as u8,
                4 => {
                    let p = i16::from(a) + i16::from(b) - i16::from(c);
                    let (pa, pb, pc) = (
                        (p - i16::from(a)).abs(),
                        (p - i16::from(b)).abs(),
                        (p - i16::from(c)).abs(),
                    );
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                other => panic!("unknown PNG filter {other}"),
            };
            rgb[y * row + i] = line[1 + i].wrapping_add(predicted);
        }
    }
    (width, height, rgb)
}

/// The tone in the provider's sound track (the synthesiser never holds one).
const TONE_HZ: f64 = 1_000.0;

/// A 4-second portrait clip with H.264 (High, B-frames) and AAC-LC (a mono
/// 1 kHz sine at 44.1 kHz, so resampling and channel mapping both run), as
/// the provider sends, made once by ffmpeg at a small size to keep tests quick.
fn provider_mp4() -> &'static [u8] {
    static MP4: OnceLock<Vec<u8>> = OnceLock::new();
    MP4.get_or_init(|| make_mp4("provider", &["-c:a", "aac", "-b:a", "64k"]))
}

/// The same clip with no sound track.
fn silent_mp4() -> &'static [u8] {
    static MP4: OnceLock<Vec<u8>> = OnceLock::new();
    MP4.get_or_init(|| make_mp4("silent", &["-an"]))
}

/// The same clip with AC-3 sound, which the worker does not decode.
fn ac3_mp4() -> &'static [u8] {
    static MP4: OnceLock<Vec<u8>> = OnceLock::new();
    MP4.get_or_init(|| make_mp4("ac3", &["-c:a", "ac3"]))
}

fn make_mp4(name: &str, audio: &[&str]) -> Vec<u8> {
    {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dreamreel-remote-openai");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{}-{name}.mp4", std::process::id()));
        let out = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
            .arg("testsrc2=size=180x320:rate=30:duration=4")
            .args(["-f", "lavfi", "-i"])
            .arg(format!(
                "sine=frequency={TONE_HZ}:sample_rate=44100:duration=4"
            ))
            .args([
                "-c:v",
                "libx264",
                "-profile:v",
                "high",
                "-bf",
                "2",
                "-pix_fmt",
                "yuv420p",
            ])
            .args(audio)
            .args(["-movflags", "+faststart", "-shortest"])
            .arg(&path)
            .output()
            .expect("these tests need ffmpeg (apt-get install -y ffmpeg)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bytes = std::fs::read(&path).unwrap();
        let _ = std::fs::remove_file(path);
        bytes
    }
}

fn spec() -> GenerationSpec {
    GenerationSpec {
        width: 360,
        height: 640,
        ..GenerationSpec::new("a paper boat on a rainy street", 2_000, Aspect::Portrait, 9)
    }
}

fn happy_script() -> Script {
    Script {
        polls: [
            video("queued", 0),
            video("in_progress", 40),
            video("completed", 100),
        ]
        .into(),
        content: provider_mp4().to_vec(),
        ..Script::default()
    }
}

fn render(fake: &Fake, progress: &(dyn Fn(Progress) + Sync)) -> Result<RenderedClip, RenderError> {
    let model = OpenAiModel::new(fake.settings());
    render_clip(&model, &spec(), progress, &AtomicBool::new(false))
}

fn model_error(result: Result<RenderedClip, RenderError>) -> ModelError {
    match result {
        Err(RenderError::Model(e)) => e,
        other => panic!("expected a model error, got {other:?}"),
    }
}

/// Runs ffmpeg on `mp4` with output `args`, returning what it writes to stdout.
fn ffmpeg_raw(mp4: &[u8], args: &[&str]) -> Vec<u8> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(format!("{}-{}-out.mp4", std::process::id(), rand_suffix()));
    std::fs::write(&path, mp4).unwrap();
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&path)
        .args(args)
        .arg("-")
        .output()
        .unwrap();
    let _ = std::fs::remove_file(path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn rand_suffix() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[test]
fn a_remote_clip_is_decoded_watermarked_and_scored() {
    let fake = Fake::start(happy_script());
    let seen = Mutex::new(Vec::new());
    let progress = |p: Progress| {
        if p.stage == Stage::Generating {
            seen.lock().unwrap().push(p.done);
        }
    };
    let clip = render(&fake, &progress).expect("render");
    let s = spec();
    assert_eq!((clip.width, clip.height, clip.frames), (360, 640, 48));

    // The documented request: bearer key, multipart fields mapped from the spec.
    let fields = fake.script.lock().unwrap().fields.clone();
    assert_eq!(fields["model"], "sora-2");
    assert_eq!(fields["prompt"], s.prompt);
    assert_eq!(fields["seconds"], "4");
    assert_eq!(fields["size"], "720x1280");
    assert!(
        fake.script.lock().unwrap().files.is_empty(),
        "no cast, no input_reference"
    );
    let calls = fake.calls();
    assert_eq!(calls[0], "POST /v1/videos");
    assert_eq!(
        calls.last().unwrap(),
        &format!("GET /v1/videos/{VIDEO_ID}/content")
    );
    assert_eq!(fake.count(&format!("DELETE /v1/videos/{VIDEO_ID}")), 0);
    let seen = seen.lock().unwrap();
    assert!(seen.contains(&40) && seen.last() == Some(&100), "{seen:?}");

    // Every frame went through the sink: the watermark shows in a decoded frame.
    let frame = 30;
    let luma = ffmpeg_raw(
        &clip.mp4,
        &[
            "-vf",
            &format!("select=eq(n\\,{frame})"),
            "-frames:v",
            "1",
            "-pix_fmt",
            "gray",
            "-f",
            "rawvideo",
        ],
    );
    assert_eq!(luma.len(), 360 * 640);
    let mark = Watermark::new(360, 640, 24);
    let contrast = |at: u32| {
        let (mut glyph, mut shadow) = ((0f64, 0f64), (0f64, 0f64));
        for y in 0..640 {
            for x in 0..360 {
                let p = f64::from(luma[(y * 360 + x) as usize]);
                match mark.ink_at(at, x, y) {
                    Some(Ink::Glyph) => glyph = (glyph.0 + p, glyph.1 + 1.0),
                    Some(Ink::Shadow) => shadow = (shadow.0 + p, shadow.1 + 1.0),
                    None => {}
                }
            }
        }
        glyph.0 / glyph.1 - shadow.0 / shadow.1
    };
    let here = contrast(frame);
    assert!(here > 80.0, "watermark contrast {here:.1}");

    // The picture is the provider's, in display order and in time: of
    // ffmpeg's own decodes of the source, scaled the same way, the one for
    // this instant is the closest away from the mark.
    let difference = |source_frame: u32| {
        let reference = ffmpeg_raw(
            provider_mp4(),
            &[
                "-vf",
                &format!("scale=360:640,select=eq(n\\,{source_frame})"),
                "-frames:v",
                "1",
                "-pix_fmt",
                "gray",
                "-f",
                "rawvideo",
            ],
        );
        let (mut diff, mut n) = (0f64, 0f64);
        for y in 0..640u32 {
            for x in 0..360u32 {
                if mark.ink_at(frame, x, y).is_none() {
                    let i = (y * 360 + x) as usize;
                    diff += (f64::from(luma[i]) - f64::from(reference[i])).abs();
                    n += 1.0;
                }
            }
        }
        diff / n
    };
    // Output frame 30 is at 1.25 s: the source's 30 fps frame 37 is showing.
    let shown = frame * 30 / 24;
    let (before, same, after) = (
        difference(shown - 1),
        difference(shown),
        difference(shown + 1),
    );
    assert!(
        same < 6.0 && same < before && same < after,
        "mean differences {before:.2} / {same:.2} / {after:.2} around source frame {shown}"
    );

    // The sound is the provider's: its tone, at its level, in both channels.
    let (left, right) = stereo_pcm(&clip.mp4);
    assert_close_to_length(left.len());
    for channel in [&left, &right] {
        let (share, rms) = tone_share(channel, TONE_HZ);
        assert!(
            share > 0.9,
            "{:.0}% of the energy is at {TONE_HZ} Hz",
            share * 100.0
        );
        // ffmpeg's sine is at 1/8 full scale: an RMS of 0.088.
        assert!((0.07..0.11).contains(&rms), "rms {rms:.3}");
    }
}

const RED: [u8; 3] = [230, 20, 20];
const BLUE: [u8; 3] = [20, 20, 230];

/// Within `tolerance` of `want` in every channel.
fn near(got: &[u8], want: [u8; 3], tolerance: u8) -> bool {
    got.iter()
        .zip(want)
        .all(|(&g, w)| g.abs_diff(w) <= tolerance)
}

/// Rows of a 720-wide RGB picture, every 13th pixel of `columns`, each
/// checked against `want(row)` (`None`: not checked).
fn check_rows(
    rgb: &[u8],
    columns: std::ops::Range<usize>,
    want: impl Fn(usize) -> Option<[u8; 3]>,
    tolerance: u8,
) {
    for (y, row) in rgb.chunks_exact(720 * 3).enumerate() {
        let Some(colour) = want(y) else { continue };
        for x in columns.clone().step_by(13) {
            let px = &row[x * 3..x * 3 + 3];
            assert!(
                near(px, colour, tolerance),
                "({x}, {y}): {px:?} is not {colour:?}"
            );
        }
    }
}

/// A cast member's reference goes to the provider as `input_reference`: a
/// PNG of exactly the requested size showing the reference (a 360x640
/// spec is half the provider's 720x1280, so the picture is doubled).
#[test]
fn a_cameo_reference_is_sent_as_a_png_of_the_requested_size() {
    let fake = Fake::start(happy_script());
    let mut spec = spec();
    let (w, h) = (spec.width, spec.height);
    let rgb = (0..w * h)
        .flat_map(|i| if i / w < h / 2 { RED } else { BLUE })
        .collect();
    spec.reference = Some(ReferenceImage {
        handle: "ana".into(),
        width: w,
        height: h,
        rgb,
    });
    let model = OpenAiModel::new(fake.settings());
    let clip = render_clip(&model, &spec, &|_| {}, &AtomicBool::new(false)).expect("render");
    assert_eq!(clip.frames, 48);

    let script = fake.script.lock().unwrap();
    assert_eq!(script.fields["size"], "720x1280");
    assert_eq!(script.fields["prompt"], spec.prompt);
    assert_eq!(script.fields["model"], "sora-2");
    let (filename, content_type, png) = &script.files["input_reference"];
    assert_eq!(
        (filename.as_str(), content_type.as_str()),
        ("reference.png", "image/png")
    );
    let (width, height, pixels) = png_rgb(png);
    assert_eq!((width, height), (720, 1280));
    check_rows(
        &pixels,
        0..720,
        |y| match y {
            ..639 => Some(RED),
            641.. => Some(BLUE),
            _ => None,
        },
        0,
    );
}
/// The decoded sound lasts the clip, less at most Opus's pre-skip
/// (which ffmpeg trims from the front).
fn assert_close_to_length(decoded: usize) {
    let want = spec().audio_samples();
    assert!(
        decoded <= want && decoded + 960 >= want,
        "{decoded} samples decoded, {want} made"
    );
}

/// The clip's sound as 48 kHz stereo, in [-1, 1].
fn stereo_pcm(mp4: &[u8]) -> (Vec<f64>, Vec<f64>) {
    let pcm = ffmpeg_raw(mp4, &["-f", "s16le", "-ac", "2", "-ar", "48000"]);
    let samples: Vec<f64> = pcm
        .chunks_exact(2)
        .map(|b| f64::from(i16::from_le_bytes([b[0], b[1]])) / 32_768.0)
        .collect();
    (
        samples.iter().step_by(2).copied().collect(),
        samples.iter().skip(1).step_by(2).copied().collect(),
    )
}

/// Of the middle second of `pcm`, the share of its energy at `hz` (Goertzel,
/// 1 Hz bins) and its RMS.
fn tone_share(pcm: &[f64], hz: f64) -> (f64, f64) {
    let start = pcm.len().saturating_sub(48_000) / 2;
    let window = &pcm[start..(start + 48_000).min(pcm.len())];
    let n = window.len() as f64;
    let w = 2.0 * std::f64::consts::PI * hz / 48_000.0;
    let (mut s1, mut s2) = (0.0, 0.0);
    for &x in window {
        let s0 = x + 2.0 * w.cos() * s1 - s2;
        (s2, s1) = (s1, s0);
    }
    let power = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
    let mean_square = window.iter().map(|x| x * x).sum::<f64>() / n;
    // A pure tone of amplitude A: power = (A n / 2)^2, mean square = A^2 / 2.
    (2.0 * power / (n * n * mean_square), mean_square.sqrt())
}

#[test]
fn without_usable_provider_sound_the_synthesiser_scores_the_clip() {
    for (name, content) in [("no sound track", silent_mp4()), ("AC-3 sound", ac3_mp4())] {
        let mut script = happy_script();
        script.content = content.to_vec();
        let fake = Fake::start(script);
        let clip = render(&fake, &|_| {}).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(clip.frames, 48, "{name}");
        let (left, right) = stereo_pcm(&clip.mp4);
        assert_close_to_length(left.len());
        let peak = left.iter().chain(&right).fold(0f64, |m, x| m.max(x.abs()));
        assert!(
            peak > 0.03,
            "{name}: the synthesiser's score is not silence ({peak})"
        );
        let (share, _) = tone_share(&left, TONE_HZ);
        assert!(
            share < 0.5,
            "{name}: the provider's tone came through ({share:.2})"
        );
    }
}

#[test]
fn a_rate_limit_is_waited_out_as_the_provider_asks() {
    let mut script = happy_script();
    script.create.push_back((
        429,
        vec![("retry-after", "1".into())],
        error(
            429,
            "rate_limit_exceeded",
            "Rate limit reached for requests",
        )
        .2,
    ));
    let fake = Fake::start(script);
    render(&fake, &|_| {}).expect("render after the rate limit");
    let script = fake.script.lock().unwrap();
    let creates: Vec<Instant> = script
        .calls
        .iter()
        .filter(|(c, _)| c == "POST /v1/videos")
        .map(|(_, t)| *t)
        .collect();
    assert_eq!(creates.len(), 2);
    let waited = creates[1] - creates[0];
    assert!(waited >= Duration::from_millis(950), "waited {waited:?}");
}

#[test]
fn a_rate_limit_given_as_an_http_date_is_waited_out() {
    // Whole seconds only: two seconds ahead is a wait of between one and two.
    let until = std::time::SystemTime::now() + Duration::from_secs(2);
    let mut script = happy_script();
    script.create.push_back((
        429,
        vec![("retry-after", httpdate::fmt_http_date(until))],
        error(429, "rate_limit_exceeded", "Rate limit reached").2,
    ));
    let fake = Fake::start(script);
    render(&fake, &|_| {}).expect("render after the rate limit");
    let script = fake.script.lock().unwrap();
    let creates: Vec<Instant> = script
        .calls
        .iter()
        .filter(|(c, _)| c == "POST /v1/videos")
        .map(|(_, t)| *t)
        .collect();
    assert_eq!(creates.len(), 2);
    let waited = creates[1] - creates[0];
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_millis(2_600),
        "waited {waited:?}"
    );
}

#[test]
fn a_rate_limit_longer_than_the_bound_gives_up_as_retryable() {
    let mut script = happy_script();
    script.create.push_back((
        429,
        vec![("x-ratelimit-reset-requests", "6m0s".into())],
        error(429, "rate_limit_exceeded", "Rate limit reached").2,
    ));
    let fake = Fake::start(script);
    let started = Instant::now();
    let e = model_error(render(&fake, &|_| {}));
    assert!(
        matches!(e, ModelError::Transient(_)) && e.is_retryable(),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(fake.count("POST /v1/videos"), 1);
}

#[test]
fn server_errors_are_retryable_and_a_create_is_never_blindly_repeated() {
    let mut script = happy_script();
    script
        .create
        .push_back(error(500, "server_error", "The server had an error."));
    let fake = Fake::start(script);
    let e = model_error(render(&fake, &|_| {}));
    assert!(
        matches!(e, ModelError::Transient(_)) && e.is_retryable(),
        "{e}"
    );
    assert_eq!(
        fake.count("POST /v1/videos"),
        1,
        "a create may have happened"
    );

    // A poll is a read: a 503 there is retried within the attempt.
    let mut script = happy_script();
    script
        .polls
        .push_front(error(503, "overloaded", "Try again."));
    let fake = Fake::start(script);
    render(&fake, &|_| {}).expect("a read retried through a 503");
}

#[test]
fn bad_requests_and_bad_keys_are_not_retryable() {
    let mut script = happy_script();
    script
        .create
        .push_back(error(400, "invalid_value", "Invalid value for 'size'."));
    let fake = Fake::start(script);
    let e = model_error(render(&fake, &|_| {}));
    assert!(
        matches!(e, ModelError::Rejected(_)) && !e.is_retryable(),
        "{e}"
    );
    assert!(e.to_string().contains("invalid_value"), "{e}");

    let fake = Fake::start(happy_script());
    let mut settings = fake.settings();
    settings.api_key = "sk-wrong".into();
    let result = render_clip(
        &OpenAiModel::new(settings),
        &spec(),
        &|_| {},
        &AtomicBool::new(false),
    );
    let e = model_error(result);
    assert!(!e.is_retryable(), "{e}");
    assert!(e.to_string().contains("401"), "{e}");
    assert!(!e.to_string().contains("sk-wrong"), "the key leaked: {e}");
}

#[test]
fn a_job_failed_by_moderation_is_not_retryable_but_an_internal_failure_is() {
    let failed = |code: &str, message: &str| {
        let (status, headers, mut body) = video("failed", 0);
        body["error"] = json!({"code": code, "message": message});
        (status, headers, body)
    };
    let mut script = happy_script();
    script.polls = [
        video("in_progress", 10),
        failed("moderation_blocked", "Blocked by moderation."),
    ]
    .into();
    let fake = Fake::start(script);
    let e = model_error(render(&fake, &|_| {}));
    assert!(
        matches!(e, ModelError::ContentRefused(_)) && !e.is_retryable(),
        "{e}"
    );
    assert!(e.to_string().contains("moderation_blocked"), "{e}");

    // Refused at create (a 400 with a moderation code) is the same refusal.
    let mut script = happy_script();
    script.create.push_back(error(
        400,
        "moderation_blocked",
        "Your request was blocked by our moderation system.",
    ));
    let fake = Fake::start(script);
    let e = model_error(render(&fake, &|_| {}));
    assert!(matches!(e, ModelError::ContentRefused(_)), "{e}");
    assert_eq!(fake.count("POST /v1/videos"), 1);

    let mut script = happy_script();
    script.polls = [failed("internal_error", "Something went wrong.")].into();
    let fake = Fake::start(script);
    let e = model_error(render(&fake, &|_| {}));
    assert!(matches!(e, ModelError::Transient(_)), "{e}");
}

#[test]
fn cancelling_mid_poll_deletes_the_remote_job() {
    let mut script = happy_script();
    script.polls = [video("in_progress", 5)].into();
    let fake = Fake::start(script);
    let cancel = AtomicBool::new(false);
    let polls = std::sync::atomic::AtomicU32::new(0);
    let progress = |p: Progress| {
        if p.stage == Stage::Generating && polls.fetch_add(1, Ordering::Relaxed) == 3 {
            cancel.store(true, Ordering::Relaxed);
        }
    };
    let model = OpenAiModel::new(fake.settings());
    let result = render_clip(&model, &spec(), &progress, &cancel);
    assert!(matches!(result, Err(RenderError::Cancelled)), "{result:?}");
    assert_eq!(fake.count(&format!("DELETE /v1/videos/{VIDEO_ID}")), 1);
    assert_eq!(fake.count(&format!("GET /v1/videos/{VIDEO_ID}/content")), 0);
}

#[test]
fn a_job_that_never_finishes_is_abandoned_and_deleted() {
    let mut script = happy_script();
    script.polls = [video("in_progress", 50)].into();
    let fake = Fake::start(script);
    let mut settings = fake.settings();
    settings.max_wait = Duration::from_millis(200);
    let result = render_clip(
        &OpenAiModel::new(settings),
        &spec(),
        &|_| {},
        &AtomicBool::new(false),
    );
    let e = model_error(result);
    assert!(e.is_retryable(), "{e}");
    assert_eq!(fake.count(&format!("DELETE /v1/videos/{VIDEO_ID}")), 1);
}

#[test]
fn a_corrupt_or_truncated_mp4_is_a_clear_error() {
    let whole = provider_mp4();
    let mut flipped = whole.to_vec();
    // Garble the middle of the file (inside mdat: the H.264 data).
    for b in &mut flipped[whole.len() / 2..whole.len() / 2 + 2_000] {
        *b ^= 0x5a;
    }
    for content in [
        whole[..whole.len() / 3].to_vec(),
        b"<html>not a video</html>".to_vec(),
        Vec::new(),
        flipped,
    ] {
        let mut script = happy_script();
        script.content = content;
        let fake = Fake::start(script);
        match render(&fake, &|_| {}) {
            // The garbled-data case may still decode (concealment): either
            // outcome is fine as long as nothing panics and errors are clear.
            Ok(clip) => assert_eq!(clip.frames, 48),
            Err(RenderError::Model(e)) => {
                assert!(e.to_string().contains("provider video"), "{e}")
            }
            Err(e) => panic!("unexpected error {e}"),
        }
    }
}

/// The job shell on the remote backend: configured by name and settings,
/// a remote clip is uploaded; a provider's content refusal fails the job
/// once, reported, without retries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_on_the_openai_backend_publishes_remote_clips() {
    use common::{Edge, Objects, config, job_id};
    use dreamreel_worker::{JobLedger, JobOutcome, SqliteLedger, Worker, fail_code};

    // The fake owns a runtime: it is made and dropped off this one's threads.
    let fake = tokio::task::spawn_blocking(|| Fake::start(happy_script()))
        .await
        .unwrap();
    let edge = Edge::start().await;
    let mut objects = Objects::start().await;
    let mut settings = config(&edge);
    settings.model = "openai".into();
    settings.models.openai = Some(fake.settings());
    let ledger: Arc<dyn JobLedger> = Arc::new(SqliteLedger::in_memory().unwrap());
    let worker = Worker::with_backend(
        settings.clone(),
        ledger.clone(),
        Arc::new(objects.storage()),
    )
    .unwrap();
    let id = job_id();
    let event = objects.put_spec(&id).await;
    let report = worker.handle_event(&event).await.unwrap();
    let outcome = report.jobs[0].result.as_ref().unwrap();
    assert!(
        matches!(outcome, JobOutcome::Completed { attempt: 1, .. }),
        "{outcome:?}"
    );
    assert_eq!(edge.actions(&id), ["start", "progress", "complete"]);
    // The feed's square clip was asked of the provider as portrait.
    assert_eq!(fake.script.lock().unwrap().fields["size"], "720x1280");
    tokio::task::spawn_blocking(move || drop(fake))
        .await
        .unwrap();

    let mut script = happy_script();
    let (status, headers, mut body) = video("failed", 0);
    body["error"] = json!({"code": "moderation_blocked", "message": "Blocked."});
    script.polls = [(status, headers, body)].into();
    let fake = tokio::task::spawn_blocking(|| Fake::start(script))
        .await
        .unwrap();
    settings.models.openai = Some(fake.settings());
    let worker = Worker::with_backend(settings, ledger, Arc::new(objects.storage())).unwrap();
    let id = job_id();
    let event = objects.put_spec(&id).await;
    let report = worker.handle_event(&event).await.unwrap();
    let outcome = report.jobs[0].result.as_ref().unwrap();
    assert!(
        matches!(
            outcome,
            JobOutcome::Failed { attempts: 1, code, reported: true, .. }
                if *code == fail_code::CONTENT_BLOCKED_PROVIDER
        ),
        "{outcome:?}"
    );
    // A progress post may or may not land first; nothing else may.
    let actions = edge.actions(&id);
    let actions: Vec<&str> = actions
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "progress")
        .collect();
    assert_eq!(actions, ["start", "fail"]);
    assert_eq!(fake.count("POST /v1/videos"), 1);
    tokio::task::spawn_blocking(move || drop(fake))
        .await
        .unwrap();
}

/// Through the job shell: a square clip casting Ana sends the first
/// picture of her verification recording, cropped to the square and placed
/// where the provider's portrait frame will be cropped back to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_sends_a_cast_members_recording_as_the_reference() {
    use common::{Edge, Objects, config, job_id};
    use dreamreel_worker::{JobLedger, JobOutcome, SqliteLedger, Worker};

    let fake = tokio::task::spawn_blocking(|| Fake::start(happy_script()))
        .await
        .unwrap();
    let edge = Edge::start().await;
    let mut objects = Objects::start().await;
    let mut settings = config(&edge);
    settings.model = "openai".into();
    settings.models.openai = Some(fake.settings());
    let ledger: Arc<dyn JobLedger> = Arc::new(SqliteLedger::in_memory().unwrap());
    let worker = Worker::with_backend(settings, ledger, Arc::new(objects.storage())).unwrap();
    // A 320x240 recording, red over its top quarter and blue below.
    let mp4 =
        tokio::task::spawn_blocking(|| common::recording(|_, y| if y < 60 { RED } else { BLUE }))
            .await
            .unwrap();
    let key = common::put_recording(&objects, "01JUSERANA0000000000000000", mp4).await;
    let id = job_id();
    let mut spec = common::spec(&id);
    spec.cast = vec![common::cast_member("ana", Some(key))];
    let event = objects
        .put_job(&id, &serde_json::to_vec(&spec).unwrap())
        .await;
    let report = worker.handle_event(&event).await.unwrap();
    let outcome = report.jobs[0].result.as_ref().unwrap();
    assert!(
        matches!(outcome, JobOutcome::Completed { attempt: 1, .. }),
        "{outcome:?}"
    );

    let (size, png) = {
        let script = fake.script.lock().unwrap();
        (
            script.fields["size"].clone(),
            script.files["input_reference"].2.clone(),
        )
    };
    assert_eq!(size, "720x1280");
    let (width, height, pixels) = png_rgb(&png);
    assert_eq!((width, height), (720, 1280));
    // The 720x720 reference fills rows 280..1000: red to 280 + 180, blue
    // after; above and below, its edge rows repeat. The middle third of
    // the columns is clear of the recording's watermark.
    check_rows(
        &pixels,
        240..480,
        |y| match y {
            ..440 => Some(RED),
            480.. => Some(BLUE),
            _ => None,
        },
        40,
    );
    tokio::task::spawn_blocking(move || drop(fake))
        .await
        .unwrap();
}

#[test]
fn a_stalled_download_times_out_and_a_cancel_interrupts_it() {
    let script = || Script {
        stall_content: true,
        ..happy_script()
    };
    let fake = Fake::start(script());
    let mut settings = fake.settings();
    settings.download_timeout = Duration::from_millis(300);
    settings.tries = 1;
    let started = Instant::now();
    let e = model_error(render_clip(
        &OpenAiModel::new(settings),
        &spec(),
        &|_| {},
        &AtomicBool::new(false),
    ));
    assert!(matches!(e, ModelError::Transient(_)), "{e}");
    assert!(started.elapsed() < Duration::from_secs(5));

    // Cancelled while the download hangs: it stops now, and the job is deleted.
    let fake = Fake::start(script());
    let cancel = AtomicBool::new(false);
    let downloading = AtomicBool::new(false);
    let progress = |p: Progress| {
        if p.stage == Stage::Generating && p.done == 100 {
            downloading.store(true, Ordering::Relaxed);
        }
    };
    let started = Instant::now();
    let result = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !downloading.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(10));
            }
            std::thread::sleep(Duration::from_millis(200));
            cancel.store(true, Ordering::Relaxed);
        });
        render_clip(
            &OpenAiModel::new(fake.settings()),
            &spec(),
            &progress,
            &cancel,
        )
    });
    assert!(matches!(result, Err(RenderError::Cancelled)), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(fake.count(&format!("DELETE /v1/videos/{VIDEO_ID}")), 1);
}

#[test]
fn a_download_over_the_cap_is_refused() {
    let fake = Fake::start(happy_script());
    let mut settings = fake.settings();
    settings.max_download_bytes = 10_000;
    let e = model_error(render_clip(
        &OpenAiModel::new(settings),
        &spec(),
        &|_| {},
        &AtomicBool::new(false),
    ));
    assert!(e.to_string().contains("larger than 10000 bytes"), "{e}");
}

#[test]
fn the_mp4_reader_survives_every_single_byte_corruption_of_its_tables() {
    use dreamreel_worker::media::mp4;
    let file = provider_mp4();
    let movie = mp4::read(file).expect("the clean file reads");
    assert_eq!(movie.video.samples.len(), 120);
    let audio = movie.audio.clone().expect("a sound track").expect("AAC");
    // AAC-LC, 44.1 kHz (index 4), mono: 0b00010_0100_0001_000.
    assert_eq!(audio.config[..2], [0x12, 0x08]);
    assert!(audio.packets.len() > 150 && audio.skip > 0.0, "{audio:?}");
    assert!(mp4::read(silent_mp4()).unwrap().audio.is_none());
    assert!(matches!(mp4::read(ac3_mp4()).unwrap().audio, Some(Err(_))));
    // Fast start: the tables lead the file; corrupt each of their bytes.
    let moov_end = movie.video.samples[0].start.min(64 * 1024);
    let mut copy = file.to_vec();
    for at in 0..moov_end {
        for flip in [0xff, 0x80, 0x01] {
            copy[at] ^= flip;
            if let Ok(movie) = mp4::read(&copy) {
                for (i, range) in movie.video.samples.iter().enumerate() {
                    let _ = mp4::annex_b(&movie.video, &copy[range.clone()], i == 0);
                }
            }
            copy[at] ^= flip;
        }
    }
}
