//! End-to-end checks of the media pipeline with the local backend, probed by
//! a real media tool (Debian's `ffprobe`/`ffmpeg`), not by our own parser.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use dreamreel_worker::provenance::{Ink, Watermark};
use dreamreel_worker::{
    Aspect, FrameSink, GenerationSpec, JobControl, LocalModel, ModelError, Progress, RenderError,
    RenderedClip, Soundtrack, SpecError, Stage, VideoModel, YuvFrame, render_clip,
};
use serde_json::Value;

fn render(spec: &GenerationSpec) -> RenderedClip {
    render_clip(&LocalModel, spec, &|_| {}, &AtomicBool::new(false)).expect("render")
}

/// Writes `bytes` to a fresh file under the target dir and returns its path.
fn write_temp(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dreamreel-worker");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}-{name}", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Runs a tool from the ffmpeg package; a missing tool fails the test loudly.
fn ffmpeg_tool(tool: &str, args: &[&str]) -> std::process::Output {
    Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!(
            "`{tool}` could not be run ({e}): these tests need Debian's ffmpeg \
             package for a real media probe — install it with `apt-get install -y ffmpeg`"
        )
    })
}

fn probe(path: &Path) -> Value {
    let out = ffmpeg_tool(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type,codec_name,width,height,r_frame_rate,nb_frames,duration,sample_rate,channels:format=duration,format_name",
            "-of",
            "json",
            path.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "ffprobe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("ffprobe json")
}

fn streams<'a>(probe: &'a Value, kind: &str) -> Vec<&'a Value> {
    probe["streams"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["codec_type"] == kind)
        .collect()
}

fn seconds(v: &Value) -> f64 {
    v.as_str().and_then(|s| s.parse().ok()).expect("duration")
}

/// Top-level box types, read independently of the crate's own helper.
fn box_order(mp4: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 8 <= mp4.len() {
        let size = u32::from_be_bytes(mp4[at..at + 4].try_into().unwrap()) as usize;
        out.push(String::from_utf8_lossy(&mp4[at + 4..at + 8]).into_owned());
        assert!(size >= 8, "unexpected box size {size}");
        at += size;
    }
    out
}

#[test]
fn ten_second_portrait_clip_is_h264_with_sound_fast_start_and_exact() {
    let spec = GenerationSpec::new(
        "a lighthouse in a storm at night",
        10_000,
        Aspect::Portrait,
        42,
    );
    let clip = render(&spec);
    assert_eq!(
        (clip.width, clip.height, clip.duration_ms, clip.frames),
        (720, 1280, 10_000, 240)
    );

    let boxes = box_order(&clip.mp4);
    let pos = |t: &str| boxes.iter().position(|b| b == t).unwrap();
    assert_eq!(boxes[0], "ftyp");
    assert!(
        pos("moov") < pos("mdat"),
        "moov must precede mdat: {boxes:?}"
    );

    let path = write_temp("portrait.mp4", &clip.mp4);
    let p = probe(&path);
    let video = streams(&p, "video");
    let audio = streams(&p, "audio");
    assert_eq!(video.len(), 1, "{p}");
    assert_eq!(audio.len(), 1, "{p}");
    assert_eq!(p["streams"].as_array().unwrap().len(), 2);
    assert_eq!(video[0]["codec_name"], "h264");
    assert_eq!(
        (video[0]["width"].as_u64(), video[0]["height"].as_u64()),
        (Some(720), Some(1280))
    );
    assert_eq!(video[0]["r_frame_rate"], "24/1");
    assert_eq!(video[0]["nb_frames"], "240");
    assert_eq!(audio[0]["codec_name"], "opus");
    assert_eq!(audio[0]["sample_rate"], "48000");
    assert_eq!(audio[0]["channels"].as_u64(), Some(2));
    for d in [
        &p["format"]["duration"],
        &video[0]["duration"],
        &audio[0]["duration"],
    ] {
        let d = seconds(d);
        assert!((d - 10.0).abs() < 0.1, "duration {d} in {p}");
    }

    // Every frame and packet must decode without a single complaint.
    let out = ffmpeg_tool(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-i",
            path.to_str().unwrap(),
            "-f",
            "null",
            "-",
        ],
    );
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && errors.trim().is_empty(),
        "decode errors: {errors}"
    );

    let thumb = write_temp("portrait.jpg", &clip.thumbnail);
    let t = probe(&thumb);
    let image = streams(&t, "video");
    assert_eq!(image[0]["codec_name"], "mjpeg");
    assert_eq!(
        (image[0]["width"].as_u64(), image[0]["height"].as_u64()),
        (Some(360), Some(640))
    );
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(thumb);
}

#[test]
fn square_and_landscape_clips_have_their_preset_sizes() {
    for (aspect, size) in [
        (Aspect::Square, (720u32, 720u32)),
        (Aspect::Landscape, (1280, 720)),
    ] {
        let clip = render(&GenerationSpec::new("paper boats", 2_000, aspect, 1));
        let path = write_temp(&format!("{}x{}.mp4", size.0, size.1), &clip.mp4);
        let p = probe(&path);
        let video = streams(&p, "video");
        assert_eq!(video.len(), 1);
        assert_eq!(streams(&p, "audio").len(), 1);
        assert_eq!(
            (video[0]["width"].as_u64(), video[0]["height"].as_u64()),
            (Some(u64::from(size.0)), Some(u64::from(size.1)))
        );
        assert!((seconds(&p["format"]["duration"]) - 2.0).abs() < 0.1, "{p}");
        let _ = std::fs::remove_file(path);
    }
}

#[test]
fn same_prompt_and_seed_give_a_byte_identical_mp4() {
    let spec = GenerationSpec::new("a fox made of origami", 2_000, Aspect::Portrait, 9);
    let (a, b) = (render(&spec), render(&spec));
    assert!(a.mp4 == b.mp4, "MP4s differ");
    assert!(a.thumbnail == b.thumbnail, "thumbnails differ");
    let other_seed = render(&GenerationSpec { seed: 10, ..spec });
    assert!(a.mp4 != other_seed.mp4, "seed must matter");
}

/// Luma plane of frame `index` of an MP4, decoded by ffmpeg.
fn decoded_luma(path: &Path, index: u32) -> Vec<u8> {
    let select = format!("select=eq(n\\,{index})");
    let out = ffmpeg_tool(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-i",
            path.to_str().unwrap(),
            "-vf",
            &select,
            "-frames:v",
            "1",
            "-pix_fmt",
            "gray",
            "-f",
            "rawvideo",
            "-",
        ],
    );
    assert!(
        out.status.success(),
        "ffmpeg failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Mean luma of the mark's letters minus that of its shadow, read in `luma`
/// where `mark` says frame `at` has them.
fn mark_contrast(mark: &Watermark, luma: &[u8], width: u32, height: u32, at: u32) -> f64 {
    let (mut glyph, mut shadow) = ((0u64, 0u64), (0u64, 0u64));
    for y in 0..height {
        for x in 0..width {
            let p = u64::from(luma[(y * width + x) as usize]);
            match mark.ink_at(at, x, y) {
                Some(Ink::Glyph) => glyph = (glyph.0 + p, glyph.1 + 1),
                Some(Ink::Shadow) => shadow = (shadow.0 + p, shadow.1 + 1),
                None => {}
            }
        }
    }
    glyph.0 as f64 / glyph.1 as f64 - shadow.0 as f64 / shadow.1 as f64
}

#[test]
fn every_decoded_frame_shows_the_moving_watermark() {
    let spec = GenerationSpec::new("a quiet harbour at dawn", 5_000, Aspect::Portrait, 3);
    let clip = render(&spec);
    let path = write_temp("watermark.mp4", &clip.mp4);
    let mark = Watermark::new(720, 1280, 24);
    // Frames in the first and second two-second hold: different corners.
    let (early, late) = (10, 60);
    assert_ne!(mark.origin(early), mark.origin(late));
    for (frame, other) in [(early, late), (late, early)] {
        let luma = decoded_luma(&path, frame);
        assert_eq!(luma.len(), 720 * 1280);
        let here = mark_contrast(&mark, &luma, 720, 1280, frame);
        let there = mark_contrast(&mark, &luma, 720, 1280, other);
        // Letters read clearly where the mark is (about 175 measured), and
        // nothing like them where it is not (about 0).
        assert!(
            here > 100.0,
            "frame {frame}: contrast {here:.1} at the mark"
        );
        assert!(
            there.abs() < 30.0,
            "frame {frame}: contrast {there:.1} where the mark is not"
        );
    }
    let _ = std::fs::remove_file(path);
}

/// Collects raw frames, for comparing what models draw.
struct Collect(Vec<YuvFrame>);

impl FrameSink for Collect {
    fn push(&mut self, frame: &YuvFrame) -> Result<(), ModelError> {
        self.0.push(frame.clone());
        Ok(())
    }
}

fn frames_of(prompt: &str) -> Vec<YuvFrame> {
    let spec = GenerationSpec::new(prompt, 1_000, Aspect::Square, 5);
    let cancel = AtomicBool::new(false);
    let mut sink = Collect(Vec::new());
    LocalModel
        .generate(&spec, &mut sink, &JobControl::new(&cancel, &|_| {}))
        .unwrap();
    sink.0
}

#[test]
fn different_prompts_give_different_frames_and_the_scene_moves() {
    let a = frames_of("a jellyfish disco");
    let b = frames_of("a quiet snowy forest");
    assert_eq!(a.len(), 24);
    for (fa, fb) in a.iter().zip(&b) {
        assert_ne!(fa, fb);
    }
    assert_ne!(a[0], a[12], "the picture must move");
}

#[test]
fn cancellation_stops_early_with_its_own_error() {
    let spec = GenerationSpec::new("an endless staircase", 10_000, Aspect::Portrait, 3);
    let cancel = AtomicBool::new(false);
    let encoded = AtomicU32::new(0);
    let progress = |p: Progress| {
        if p.stage == Stage::EncodingVideo {
            encoded.store(p.done, Ordering::Relaxed);
            if p.done == 5 {
                cancel.store(true, Ordering::Relaxed);
            }
        }
    };
    let result = render_clip(&LocalModel, &spec, &progress, &cancel);
    assert!(matches!(result, Err(RenderError::Cancelled)), "{result:?}");
    assert_eq!(
        encoded.load(Ordering::Relaxed),
        5,
        "stopped right after the flag"
    );
}

#[test]
fn invalid_specs_are_refused_before_any_work() {
    struct NeverCalled;
    impl VideoModel for NeverCalled {
        fn name(&self) -> &str {
            "never"
        }
        fn generate(
            &self,
            _: &GenerationSpec,
            _: &mut dyn FrameSink,
            _: &JobControl<'_>,
        ) -> Result<Soundtrack, ModelError> {
            panic!("an invalid spec reached the model")
        }
    }
    let ok = GenerationSpec::new("a kite", 5_000, Aspect::Portrait, 0);
    let cases = [
        (
            GenerationSpec {
                duration_ms: 0,
                ..ok.clone()
            },
            SpecError::Duration(0),
        ),
        (
            GenerationSpec {
                duration_ms: 11_000,
                ..ok.clone()
            },
            SpecError::Duration(11_000),
        ),
        (
            GenerationSpec {
                width: 721,
                ..ok.clone()
            },
            SpecError::Size {
                width: 721,
                height: 1280,
            },
        ),
        (
            GenerationSpec {
                height: 719,
                ..ok.clone()
            },
            SpecError::Size {
                width: 720,
                height: 719,
            },
        ),
    ];
    for (spec, want) in cases {
        let got = render_clip(&NeverCalled, &spec, &|_| {}, &AtomicBool::new(false));
        match got {
            Err(RenderError::InvalidSpec(e)) => assert_eq!(e, want),
            other => panic!("{spec:?} gave {other:?}"),
        }
    }
}

#[test]
fn a_model_that_breaks_its_contract_is_reported_not_muxed() {
    /// Sends one frame too few.
    struct Short;
    impl VideoModel for Short {
        fn name(&self) -> &str {
            "short"
        }
        fn generate(
            &self,
            spec: &GenerationSpec,
            sink: &mut dyn FrameSink,
            _: &JobControl<'_>,
        ) -> Result<Soundtrack, ModelError> {
            let frame = YuvFrame::new(spec.width, spec.height);
            for _ in 1..spec.frame_count() {
                sink.push(&frame)?;
            }
            Ok(Soundtrack {
                samples: vec![0.0; spec.audio_samples() * 2],
            })
        }
    }
    let spec = GenerationSpec::new("x", 1_000, Aspect::Square, 0);
    let seen = Mutex::new(Vec::new());
    let got = render_clip(
        &Short,
        &spec,
        &|p| seen.lock().unwrap().push(p),
        &AtomicBool::new(false),
    );
    assert!(
        matches!(got, Err(RenderError::Model(ModelError::InvalidOutput(_)))),
        "{got:?}"
    );
    assert!(
        !seen
            .lock()
            .unwrap()
            .iter()
            .any(|p| p.stage == Stage::Finishing)
    );
}
