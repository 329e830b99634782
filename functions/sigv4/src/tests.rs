//! AWS's published S3 SigV4 examples, and sign → verify round trips.

use crate::*;

const AK: &str = "AKIAIOSFODNN7EXAMPLE";
const SK: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
/// 20130524T000000Z, the time of every example.
const T0: u64 = 1_369_353_600;
const HOST: &str = "examplebucket.s3.amazonaws.com";

fn signer() -> Signer {
    Signer::new(Credentials::new(AK, SK), "us-east-1")
}

fn verifier() -> Verifier<Vec<Credentials>> {
    Verifier::new("us-east-1", vec![Credentials::new(AK, SK)])
}

/// Signs, then returns the request as a server would receive it.
fn signed(req: Request, payload_hash: &str, now: u64) -> Request {
    let auth = signer().sign(&req, payload_hash, now).unwrap();
    let mut out = req;
    for (name, value) in auth.to_vec() {
        out.headers.push((name.to_owned(), value));
    }
    out
}

/// Applies a presigned query string to `req` as a server would parse it.
fn presigned(req: &Request, expires: u64, now: u64) -> Request {
    let query = signer().presign(req, expires, now).unwrap();
    Request {
        query: parse_query(&query).unwrap(),
        ..req.clone()
    }
}

fn signature_of(auth: &AuthHeaders) -> &str {
    auth.authorization.rsplit("Signature=").next().unwrap()
}

#[test]
fn aws_example_get_object() {
    let req = Request::new("GET", "/test.txt")
        .with_header("Host", HOST)
        .with_header("Range", "bytes=0-9");
    let auth = signer().sign(&req, EMPTY_PAYLOAD_SHA256, T0).unwrap();
    assert_eq!(
        auth.authorization,
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
         SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
         Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    );
    assert_eq!(auth.x_amz_date, "20130524T000000Z");

    // The header exactly as AWS prints it (no spaces after commas) verifies.
    let wire = req
        .with_header("x-amz-date", "20130524T000000Z")
        .with_header("x-amz-content-sha256", EMPTY_PAYLOAD_SHA256)
        .with_header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,\
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,\
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        );
    let ok = verifier().verify(&wire, T0).unwrap();
    assert_eq!(ok.access_key_id, AK);
    assert!(!ok.presigned);
}

#[test]
fn aws_example_put_object() {
    let body = b"Welcome to Amazon S3.";
    let req = Request::new("PUT", "/test$file.text")
        .with_header("Date", "Fri, 24 May 2013 00:00:00 GMT")
        .with_header("Host", HOST)
        .with_header("x-amz-storage-class", "REDUCED_REDUNDANCY");
    let hash = sha256_hex(body);
    assert_eq!(
        hash,
        "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
    );
    let auth = signer().sign(&req, &hash, T0).unwrap();
    assert_eq!(
        signature_of(&auth),
        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
    );
    assert!(
        auth.authorization.contains(
            "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,"
        )
    );
}

#[test]
fn aws_example_bucket_lifecycle_and_list() {
    let lifecycle = Request::new("GET", "/")
        .with_query("lifecycle", "")
        .with_header("Host", HOST);
    let auth = signer().sign(&lifecycle, EMPTY_PAYLOAD_SHA256, T0).unwrap();
    assert_eq!(
        signature_of(&auth),
        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
    );

    // Query order on the wire does not matter: the canonical form sorts.
    let list = Request::new("GET", "/")
        .with_query("prefix", "J")
        .with_query("max-keys", "2")
        .with_header("Host", HOST);
    let auth = signer().sign(&list, EMPTY_PAYLOAD_SHA256, T0).unwrap();
    assert_eq!(
        signature_of(&auth),
        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
    );
}

#[test]
fn aws_example_presigned_url() {
    let req = Request::new("GET", "/test.txt").with_header("Host", HOST);
    let url = signer()
        .presigned_url(&format!("https://{HOST}"), &req, 86_400, T0)
        .unwrap();
    assert_eq!(
        url,
        "https://examplebucket.s3.amazonaws.com/test.txt\
         ?X-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
         &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
         &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    );
    let ok = verifier()
        .verify(&presigned(&req, 86_400, T0), T0 + 60)
        .unwrap();
    assert!(ok.presigned);
    assert_eq!(ok.payload, Payload::Unsigned);
}

#[test]
fn aws_example_streaming_chunks() {
    let req = Request::new("PUT", "/examplebucket/chunkObject.txt")
        .with_header("Content-Encoding", "aws-chunked")
        .with_header("Content-Length", "66824")
        .with_header("Host", "s3.amazonaws.com")
        .with_header("x-amz-decoded-content-length", "66560")
        .with_header("x-amz-storage-class", "REDUCED_REDUNDANCY");
    let s = signer();
    let auth = s
        .sign(&req, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", T0)
        .unwrap();
    assert_eq!(
        auth.signature,
        "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    );
    let mut chunks = s.chunk_signer(&auth, T0);
    assert_eq!(
        chunks.sign_chunk(&[b'a'; 65_536]),
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
    );
    assert_eq!(
        chunks.sign_chunk(&[b'a'; 1024]),
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
    );
    assert_eq!(
        chunks.sign_chunk(b""),
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
    );

    // The server side checks the same chain, and refuses a swapped chunk.
    let wire = signed(req, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", T0);
    let ok = verifier().verify(&wire, T0).unwrap();
    assert!(matches!(ok.payload, Payload::Streaming(_)));
    let mut check = ok.chunk_verifier();
    let first = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648";
    assert_eq!(
        check.clone().verify_chunk(first, &[b'b'; 65_536]),
        Err(VerifyError::SignatureMismatch)
    );
    check.verify_chunk(first, &[b'a'; 65_536]).unwrap();
}

#[test]
fn aws_example_signing_key() {
    // From the SigV4 general reference (IAM, 2015-08-30).
    let key = signing_key(
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "20150830",
        "us-east-1",
        "iam",
    );
    assert_eq!(
        hex(&key),
        "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
    );
}

fn put_request() -> Request {
    Request::new("PUT", "/media/clips/my clip (1).mp4")
        .with_query("x-id", "PutObject")
        .with_header("host", "127.0.0.1:9000")
        .with_header("content-type", "video/mp4")
        .with_header("x-amz-meta-owner", "u_123")
}

#[test]
fn round_trip_verifies_and_reports_the_payload() {
    let body = b"not really an mp4";
    let req = signed(put_request(), &sha256_hex(body), T0);
    let ok = verifier().verify(&req, T0).unwrap();
    assert_eq!(ok.signed_at, T0);
    ok.check_payload(&sha256_hex(body)).unwrap();
    assert_eq!(
        ok.check_payload(&sha256_hex(b"something else")),
        Err(VerifyError::PayloadMismatch)
    );

    let unsigned = signed(put_request(), UNSIGNED_PAYLOAD, T0);
    let ok = verifier().verify(&unsigned, T0).unwrap();
    assert_eq!(ok.payload, Payload::Unsigned);
    ok.check_payload(&sha256_hex(b"anything")).unwrap();
}

#[test]
fn tampering_breaks_the_signature() {
    let good = signed(put_request(), UNSIGNED_PAYLOAD, T0);
    let set_header = |name: &str, value: &str| {
        let mut r = good.clone();
        for (n, v) in &mut r.headers {
            if n.eq_ignore_ascii_case(name) {
                *v = value.to_owned();
            }
        }
        r
    };
    let tampered = [
        Request {
            method: "DELETE".into(),
            ..good.clone()
        },
        Request {
            path: "/media/clips/other.mp4".into(),
            ..good.clone()
        },
        Request {
            query: vec![("x-id".into(), "GetObject".into())],
            ..good.clone()
        },
        set_header("content-type", "text/html"),
        set_header("x-amz-meta-owner", "u_666"),
        set_header("x-amz-content-sha256", EMPTY_PAYLOAD_SHA256),
    ];
    for req in tampered {
        assert_eq!(
            verifier().verify(&req, T0).unwrap_err(),
            VerifyError::SignatureMismatch,
            "{req:?}"
        );
    }

    let other_secret = Verifier::new("us-east-1", vec![Credentials::new(AK, "not the secret")]);
    assert_eq!(
        other_secret.verify(&good, T0).unwrap_err(),
        VerifyError::SignatureMismatch
    );
}

#[test]
fn refusals_are_distinct() {
    let good = signed(put_request(), UNSIGNED_PAYLOAD, T0);
    let v = verifier();

    assert_eq!(
        v.verify(&put_request(), T0).unwrap_err(),
        VerifyError::MissingAuth
    );

    let stranger = Signer::new(Credentials::new("AKIDSTRANGER", SK), "us-east-1");
    let mut req = put_request();
    for (n, val) in stranger.sign(&req, UNSIGNED_PAYLOAD, T0).unwrap().to_vec() {
        req.headers.push((n.into(), val));
    }
    assert_eq!(
        v.verify(&req, T0).unwrap_err(),
        VerifyError::UnknownAccessKey("AKIDSTRANGER".into())
    );

    // ±15 minutes of skew is tolerated, more is not.
    assert!(v.verify(&good, T0 + MAX_CLOCK_SKEW_SECS).is_ok());
    assert!(v.verify(&good, T0 - MAX_CLOCK_SKEW_SECS).is_ok());
    assert_eq!(
        v.verify(&good, T0 + MAX_CLOCK_SKEW_SECS + 1).unwrap_err(),
        VerifyError::TimeSkewed
    );
    assert_eq!(
        v.verify(&good, T0 - MAX_CLOCK_SKEW_SECS - 1).unwrap_err(),
        VerifyError::TimeSkewed
    );

    let wrong_region = Verifier::new("eu-west-1", vec![Credentials::new(AK, SK)]);
    assert!(matches!(
        wrong_region.verify(&good, T0),
        Err(VerifyError::Malformed(_))
    ));

    // An x-amz-* header added after signing could change stored metadata.
    let smuggled = good.clone().with_header("x-amz-meta-admin", "true");
    assert!(matches!(
        v.verify(&smuggled, T0).unwrap_err(),
        VerifyError::Malformed(_)
    ));

    for auth in [
        "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request",
        "AWS4-HMAC-SHA256 Credential=x, SignedHeaders=host, Signature=zz",
        "AWS4-HMAC-SHA256 garbage",
    ] {
        let mut req = good.clone();
        req.headers.retain(|(n, _)| n != "authorization");
        req.headers.push(("authorization".into(), auth.into()));
        assert!(
            matches!(v.verify(&req, T0), Err(VerifyError::Malformed(_))),
            "{auth}"
        );
    }
}

#[test]
fn presigned_urls_expire_and_resist_tampering() {
    let req = Request::new("GET", "/media/v_1/video.mp4").with_header("host", "localhost:9000");
    let url = presigned(&req, 300, T0);
    let v = verifier();
    assert!(v.verify(&url, T0 + 300).is_ok());
    assert_eq!(v.verify(&url, T0 + 301).unwrap_err(), VerifyError::Expired);
    // Signed "in the future" beyond the skew allowance is not yet valid.
    assert_eq!(
        v.verify(&url, T0 - MAX_CLOCK_SKEW_SECS - 1).unwrap_err(),
        VerifyError::TimeSkewed
    );

    let mut longer = url.clone();
    for (n, val) in &mut longer.query {
        if n == "X-Amz-Expires" {
            *val = "604800".into();
        }
    }
    assert_eq!(
        v.verify(&longer, T0 + 301).unwrap_err(),
        VerifyError::SignatureMismatch
    );

    let other_path = Request {
        path: "/media/v_2/video.mp4".into(),
        ..url.clone()
    };
    assert_eq!(
        v.verify(&other_path, T0).unwrap_err(),
        VerifyError::SignatureMismatch
    );

    let both = url
        .clone()
        .with_header("authorization", "AWS4-HMAC-SHA256 x");
    assert!(matches!(
        v.verify(&both, T0).unwrap_err(),
        VerifyError::Malformed(_)
    ));

    let mut missing = url.clone();
    missing.query.retain(|(n, _)| n != "X-Amz-Date");
    assert!(matches!(
        v.verify(&missing, T0).unwrap_err(),
        VerifyError::Malformed(_)
    ));
}

#[test]
fn presign_limits_expiry_to_seven_days() {
    let req = Request::new("GET", "/b/k").with_header("host", "h");
    assert_eq!(
        signer().presign(&req, 0, T0),
        Err(SignError::InvalidExpiry(0))
    );
    assert_eq!(
        signer().presign(&req, MAX_PRESIGN_EXPIRES_SECS + 1, T0),
        Err(SignError::InvalidExpiry(MAX_PRESIGN_EXPIRES_SECS + 1))
    );
    assert!(signer().presign(&req, MAX_PRESIGN_EXPIRES_SECS, T0).is_ok());
    assert_eq!(
        signer().presign(&Request::new("GET", "/b/k"), 60, T0),
        Err(SignError::MissingHost)
    );
    assert_eq!(
        signer().sign(&Request::new("GET", "/b/k"), UNSIGNED_PAYLOAD, T0),
        Err(SignError::MissingHost)
    );
}

#[test]
fn session_tokens_are_signed() {
    let mut creds = Credentials::new(AK, SK);
    creds.session_token = Some("token/with+chars".into());
    let s = Signer::new(creds, "us-east-1");
    let req = Request::new("GET", "/b/k").with_header("host", "h");
    let auth = s.sign(&req, UNSIGNED_PAYLOAD, T0).unwrap();
    assert!(auth.authorization.contains("x-amz-security-token"));
    let query = s.presign(&req, 60, T0).unwrap();
    assert!(query.contains("X-Amz-Security-Token=token%2Fwith%2Bchars"));
    let url = Request {
        query: parse_query(&query).unwrap(),
        ..req
    };
    assert!(verifier().verify(&url, T0).is_ok());
}

#[test]
fn credentials_do_not_print_secrets() {
    let printed = format!("{:?}", Credentials::new(AK, SK));
    assert!(printed.contains(AK));
    assert!(!printed.contains(SK));
}

#[test]
fn one_signer_across_a_day_boundary_signs_as_fresh_signers_do() {
    let req = Request::new("GET", "/test.txt").with_header("Host", HOST);
    let shared = signer();
    // Today, tomorrow, then today again: the cached key must follow the date.
    for now in [T0, T0 + 86_400, T0 + 10, T0 + 86_400 + 5] {
        assert_eq!(
            shared.presign(&req, 600, now).unwrap(),
            signer().presign(&req, 600, now).unwrap(),
            "at {now}"
        );
        let (a, b) = (
            shared.sign(&req, EMPTY_PAYLOAD_SHA256, now).unwrap(),
            signer().sign(&req, EMPTY_PAYLOAD_SHA256, now).unwrap(),
        );
        assert_eq!(a.authorization, b.authorization, "at {now}");
    }
    // Printing a signer shows no key material.
    let printed = format!("{shared:?}");
    assert!(!printed.contains(SK) && printed.contains("KeyCache(..)"));
}
