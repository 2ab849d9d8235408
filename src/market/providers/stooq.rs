//! `stooq`: placeholder until its adapter lands (issue #3, in progress).

use super::{FetchRequest, FetchResult, ProviderDeps, ProviderError};

pub struct Stooq;

impl Stooq {
    pub fn from_config(_table: &toml::Table, _deps: &ProviderDeps) -> Result<Self, String> {
        Ok(Stooq)
    }

    pub async fn fetch(&self, req: &FetchRequest) -> FetchResult {
        Err(ProviderError::permanent(
            "stooq",
            &req.symbol,
            "the stooq adapter is not implemented yet",
        ))
    }
}
