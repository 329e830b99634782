//! What provenance costs a 10-second 720×1280 clip: C2PA signing (with the
//! check after signing) and verifying, next to rendering the same clip in
//! the same run. Prints figures; asserts nothing but that the result verifies.
//!
//! Run: `cargo bench -p dreamreel-worker --bench provenance`

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use dreamreel_worker::provenance::{
    JobAssertion, ManifestSigner, SigningAlg, ValidationState, dev_keys, verify_mp4,
};
use dreamreel_worker::{Aspect, GenerationSpec, LocalModel, render_clip};

const RUNS: usize = 5;

fn main() {
    let spec = GenerationSpec::new("a lighthouse in a storm", 10_000, Aspect::Portrait, 3);
    let started = Instant::now();
    let clip = render_clip(&LocalModel, &spec, &|_| {}, &AtomicBool::new(false)).unwrap();
    let render = started.elapsed().as_secs_f64();
    let creds = dev_keys::generate(SigningAlg::Es256).unwrap();
    let signer = ManifestSigner::new(&creds.signing).unwrap();
    let job = JobAssertion {
        job_id: "01JDMEASURE000000000000000".into(),
        model: "local".into(),
    };
    let mut best = f64::MAX;
    let mut signed = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        signed = signer.sign_mp4(&clip.mp4, &job).unwrap();
        best = best.min(started.elapsed().as_secs_f64());
    }
    let started = Instant::now();
    let seen = verify_mp4(&signed, Some(&creds.root_pem)).unwrap();
    let verify = started.elapsed().as_secs_f64();
    assert_eq!(seen.state, ValidationState::Trusted);
    let added = signed.len() - clip.mp4.len();
    println!("10 s 720x1280 clip, rendered in {render:.3} s (the baseline)");
    println!(
        "sign (incl. the check after signing): {best:.3} s best of {RUNS} = {:.4}x the render",
        best / render
    );
    println!("verify: {verify:.3} s = {:.4}x the render", verify / render);
    println!(
        "size: {} bytes unsigned, +{added} signed = +{:.2}%",
        clip.mp4.len(),
        100.0 * added as f64 / clip.mp4.len() as f64
    );
}
