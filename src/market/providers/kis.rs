//! `kis`: placeholder until its adapter lands (issue #3, in progress).

use super::{FetchRequest, FetchResult, ProviderDeps, ProviderError};

pub struct Kis;

impl Kis {
    pub fn from_config(_table: &toml::Table, _deps: &ProviderDeps) -> Result<Self, String> {
        Ok(Kis)
    }

    pub async fn fetch(&self, req: &FetchRequest) -> FetchResult {
        Err(ProviderError::permanent(
            "kis",
            &req.symbol,
            "the kis adapter is not implemented yet",
        ))
    }
}
