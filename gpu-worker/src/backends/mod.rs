//! Model backends. Which one a worker runs is configuration, chosen by name.

pub mod local;
pub mod ltx;
pub mod openai;

use crate::model::VideoModel;

/// Backend names [`build`] knows.
pub const NAMES: &[&str] = &[
    local::LocalModel::NAME,
    openai::OpenAiModel::NAME,
    ltx::LtxModel::NAME,
];

/// The backend configured as `name`, built from its group of `settings`.
pub fn build(
    name: &str,
    settings: &crate::config::ModelSettings,
) -> Result<Box<dyn VideoModel>, crate::config::ConfigError> {
    use crate::config::ConfigError;
    match name {
        openai::OpenAiModel::NAME => {
            let openai = settings
                .openai
                .clone()
                .ok_or(ConfigError::Missing(crate::config::OPENAI_API_KEY_VAR))?;
            Ok(Box::new(openai::OpenAiModel::new(openai)))
        }
        ltx::LtxModel::NAME => {
            use crate::config::MODEL_DIR_VAR;
            let dir = settings
                .ltx_dir
                .as_ref()
                .ok_or(ConfigError::Missing(MODEL_DIR_VAR))?;
            let model = ltx::LtxModel::load(dir, ltx::Device::from_env()).map_err(|e| {
                ConfigError::Invalid {
                    name: MODEL_DIR_VAR,
                    detail: e.to_string(),
                }
            })?;
            Ok(Box::new(model))
        }
        _ => by_name(name).ok_or_else(|| ConfigError::UnknownModel(name.to_owned())),
    }
}

/// The backend configured as `name`, or `None` for an unknown name.
pub fn by_name(name: &str) -> Option<Box<dyn VideoModel>> {
    match name {
        local::LocalModel::NAME => Some(Box::new(local::LocalModel)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    // Other backends' groups keep their defaults.
    #[allow(clippy::needless_update)]
    fn every_listed_name_resolves() {
        let settings = crate::config::ModelSettings {
            openai: Some(super::openai::OpenAiSettings::new("sk-test")),
            ltx_dir: Some(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ltx/tiny"),
            ),
            ..Default::default()
        };
        for name in super::NAMES {
            assert_eq!(super::build(name, &settings).unwrap().name(), *name);
        }
        assert!(super::by_name("nope").is_none());
        assert!(super::build("openai", &Default::default()).is_err());
        assert!(super::build("ltx", &Default::default()).is_err());
    }
}
