//! `yahoo`: placeholder until its adapter lands (issue #3, in progress).

use super::{FetchRequest, FetchResult, ProviderDeps, ProviderError};

pub struct Yahoo;

impl Yahoo {
    pub fn from_config(_table: &toml::Table, _deps: &ProviderDeps) -> Result<Self, String> {
        Ok(Yahoo)
    }

    pub async fn fetch(&self, req: &FetchRequest) -> FetchResult {
        Err(ProviderError::permanent(
            "yahoo",
            &req.symbol,
            "the yahoo adapter is not implemented yet",
        ))
    }
}
