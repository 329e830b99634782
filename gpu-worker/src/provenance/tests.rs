use std::sync::atomic::AtomicBool;

use super::manifest::{GENERATOR, TRAINED_ALGORITHMIC_MEDIA, UNTRUSTED};
use super::*;
use crate::backends::local::LocalModel;
use crate::render::render_clip;
use crate::spec::{Aspect, GenerationSpec};

fn clip_mp4() -> Vec<u8> {
    let spec = GenerationSpec::new("a paper boat on a pond", 1_000, Aspect::Square, 5);
    render_clip(&LocalModel, &spec, &|_| {}, &AtomicBool::new(false))
        .expect("render")
        .mp4
}

fn job() -> JobAssertion {
    JobAssertion {
        job_id: "01JDPROVENANCE000000000000".into(),
        model: "local".into(),
    }
}

/// Top-level boxes: (type, offset, size).
fn boxes(mp4: &[u8]) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 8 <= mp4.len() {
        let size = u32::from_be_bytes(mp4[at..at + 4].try_into().unwrap()) as usize;
        out.push((
            String::from_utf8_lossy(&mp4[at + 4..at + 8]).into(),
            at,
            size,
        ));
        assert!(size >= 8, "box sizes past 4 GiB are not expected here");
        at += size;
    }
    out
}

#[test]
fn a_signed_clip_verifies_and_says_what_made_it() {
    for alg in [SigningAlg::Es256, SigningAlg::Ed25519] {
        let creds = dev_keys::generate(alg).unwrap();
        let signer = ManifestSigner::new(&creds.signing).unwrap();
        let unsigned = clip_mp4();
        let signed = signer.sign_mp4(&unsigned, &job()).unwrap();

        // Only the test root is unknown to a reader with no trust list: the
        // signature, the certificate profile and every hash pass.
        let seen = verify_mp4(&signed, None).unwrap();
        assert_eq!(seen.state, ValidationState::Valid, "{alg:?}: {seen:?}");
        assert_eq!(seen.failures, [UNTRUSTED], "{alg:?}");
        assert_eq!(seen.generator.as_deref(), Some(GENERATOR));
        assert_eq!(
            seen.created_source_type.as_deref(),
            Some(TRAINED_ALGORITHMIC_MEDIA)
        );
        assert_eq!(seen.job, Some(job()));

        // With the root as trust anchor nothing fails at all.
        let trusted = verify_mp4(&signed, Some(&creds.root_pem)).unwrap();
        assert_eq!(trusted.state, ValidationState::Trusted, "{trusted:?}");
        assert!(trusted.failures.is_empty(), "{trusted:?}");

        // The manifest sits before moov: still fast start, and the media
        // bytes are untouched.
        let order: Vec<String> = boxes(&signed).into_iter().map(|b| b.0).collect();
        assert_eq!(order[..2], ["ftyp", "uuid"], "{order:?}");
        let pos = |name: &str| order.iter().position(|b| b == name).unwrap();
        assert!(pos("moov") < pos("mdat"), "{order:?}");
        let mdat = |mp4: &[u8]| {
            let (_, at, size) = boxes(mp4).into_iter().find(|b| b.0 == "mdat").unwrap();
            mp4[at..at + size].to_vec()
        };
        assert_eq!(mdat(&signed), mdat(&unsigned));
    }
}

#[test]
fn a_changed_byte_in_the_media_fails_validation() {
    let creds = dev_keys::generate(SigningAlg::Es256).unwrap();
    let signer = ManifestSigner::new(&creds.signing).unwrap();
    let mut signed = signer.sign_mp4(&clip_mp4(), &job()).unwrap();
    let (_, at, size) = boxes(&signed).into_iter().find(|b| b.0 == "mdat").unwrap();
    signed[at + size / 2] ^= 0x55;

    let seen = verify_mp4(&signed, Some(&creds.root_pem)).unwrap();
    assert_eq!(seen.state, ValidationState::Invalid, "{seen:?}");
    assert!(
        seen.failures
            .iter()
            .any(|f| f == "assertion.bmffHash.mismatch"),
        "{seen:?}"
    );
}

#[test]
fn an_unsigned_clip_has_no_manifest_to_read() {
    assert!(matches!(
        verify_mp4(&clip_mp4(), None),
        Err(ProvenanceError::Read(_))
    ));
}

#[test]
fn a_key_that_does_not_match_its_certificate_is_caught_when_signing() {
    let a = dev_keys::generate(SigningAlg::Es256).unwrap();
    let b = dev_keys::generate(SigningAlg::Es256).unwrap();
    let mixed = SigningCredentials {
        private_key_pem: b.signing.private_key_pem,
        ..a.signing
    };
    // Either the signer refuses the pair or the check after signing does.
    let signed = ManifestSigner::new(&mixed).and_then(|s| s.sign_mp4(&clip_mp4(), &job()));
    assert!(signed.is_err());
}

#[test]
fn development_credentials_are_made_once_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let first = dev_keys::load_or_create(dir.path()).unwrap();
    let again = dev_keys::load_or_create(dir.path()).unwrap();
    assert_eq!(first.root_pem, again.root_pem);
    assert_eq!(first.signing.private_key_pem, again.signing.private_key_pem);
    assert!(!format!("{:?}", first.signing).contains("PRIVATE KEY"));
    assert!(development_signer(dir.path()).is_ok());
    assert!(matches!(
        SigningAlg::parse("rs256"),
        Err(ProvenanceError::UnknownAlgorithm(_))
    ));
    assert_eq!(SigningAlg::parse(" ED25519 ").unwrap(), SigningAlg::Ed25519);
}
