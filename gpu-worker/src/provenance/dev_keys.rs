//! Development signing credentials: a root CA and a signing certificate
//! under it, shaped the way C2PA validators require (v3; end entity not a
//! CA, `digitalSignature` key usage, the C2PA signing EKU, an authority key
//! identifier, an organisation in the subject). The local stack makes them
//! once into its data folder; tests make fresh ones. Production keys come
//! from configuration (`DREAMREEL_C2PA_SIGN_KEY` / `_SIGN_CERT`).

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

use super::manifest::{ProvenanceError, SigningAlg, SigningCredentials};

/// id-kp C2PA signing (1.3.6.1.4.1.62558.2.1).
const C2PA_SIGNING_EKU: [u64; 9] = [1, 3, 6, 1, 4, 1, 62558, 2, 1];
const ORGANISATION: &str = "Dreamreel (development)";

/// Development credentials and the root that vouches for them.
#[derive(Clone, Debug)]
pub struct DevCredentials {
    /// The signing key and chain (the signing certificate only).
    pub signing: SigningCredentials,
    /// The root certificate, PEM: the trust anchor a verifier needs.
    pub root_pem: String,
}

/// Fresh development credentials for `alg`.
pub fn generate(alg: SigningAlg) -> Result<DevCredentials, ProvenanceError> {
    let fail = |e: rcgen::Error| ProvenanceError::Development(e.to_string());
    let algorithm = match alg {
        SigningAlg::Es256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        SigningAlg::Ed25519 => &rcgen::PKCS_ED25519,
    };
    let year = current_year();

    let root_key = KeyPair::generate_for(algorithm).map_err(fail)?;
    let mut root = CertificateParams::default();
    root.distinguished_name = name("Dreamreel development C2PA root");
    root.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    root.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    root.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    root.not_after = rcgen::date_time_ymd(year + 20, 1, 1);
    let root = root.self_signed(&root_key).map_err(fail)?;

    let key = KeyPair::generate_for(algorithm).map_err(fail)?;
    let mut leaf = CertificateParams::default();
    leaf.distinguished_name = name("Dreamreel development C2PA signer");
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::Other(C2PA_SIGNING_EKU.to_vec())];
    leaf.use_authority_key_identifier_extension = true;
    leaf.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    leaf.not_after = rcgen::date_time_ymd(year + 10, 1, 1);
    let leaf = leaf.signed_by(&key, &root, &root_key).map_err(fail)?;

    Ok(DevCredentials {
        signing: SigningCredentials {
            alg,
            private_key_pem: key.serialize_pem(),
            cert_chain_pem: leaf.pem(),
        },
        root_pem: root.pem(),
    })
}

/// The ES256 credentials kept in `dir` (`signer.key`, `signer.pem`,
/// `root.pem`), made on first use.
pub fn load_or_create(dir: &Path) -> Result<DevCredentials, ProvenanceError> {
    let (key, chain, root) = (
        dir.join("signer.key"),
        dir.join("signer.pem"),
        dir.join("root.pem"),
    );
    if key.exists() && chain.exists() && root.exists() {
        let signing = SigningCredentials::from_files(&key, &chain, SigningAlg::Es256)?;
        let root_pem = std::fs::read_to_string(&root).map_err(|source| ProvenanceError::File {
            what: "root certificate",
            path: root,
            source,
        })?;
        return Ok(DevCredentials { signing, root_pem });
    }
    let made = generate(SigningAlg::Es256)?;
    let store = |path: &Path, text: &str| -> std::io::Result<()> {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text)?;
        restrict_permissions(&tmp);
        std::fs::rename(&tmp, path)
    };
    std::fs::create_dir_all(dir)
        .and_then(|()| store(&root, &made.root_pem))
        .and_then(|()| store(&chain, &made.signing.cert_chain_pem))
        // The key last: its presence marks a complete set.
        .and_then(|()| store(&key, &made.signing.private_key_pem))
        .map_err(|e| ProvenanceError::Development(format!("writing {}: {e}", dir.display())))?;
    Ok(made)
}

fn name(common: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common);
    dn.push(DnType::OrganizationName, ORGANISATION);
    dn
}

/// The current UTC year, give or take a day at New Year (validity starts a
/// year earlier, so that does not matter).
fn current_year() -> i32 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    1970 + (secs / 31_556_952) as i32
}

#[cfg(unix)]
fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict_permissions(_: &Path) {}
