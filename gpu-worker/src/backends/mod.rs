//! Model backends. Which one a worker runs is configuration, chosen by name.

pub mod local;

use crate::model::VideoModel;

/// Backend names [`by_name`] knows.
pub const NAMES: &[&str] = &[local::LocalModel::NAME];

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
    fn every_listed_name_resolves() {
        for name in super::NAMES {
            assert_eq!(super::by_name(name).unwrap().name(), *name);
        }
        assert!(super::by_name("nope").is_none());
    }
}
