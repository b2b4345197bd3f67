//! The environments dashboard (SPEC §4.3 `GET /api/v1/products`, §6 `/`):
//! every product with, per environment, the version there and the release
//! deployed there.

use serde::{Deserialize, Serialize};

use crate::{EnvStatus, ReleaseStatus};

/// `GET /api/v1/products`: every product, by slug.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductList {
    pub products: Vec<ProductOverview>,
}

/// One product on the environments dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductOverview {
    /// The product's slug.
    pub product: String,
    /// The newest release of the product, if any.
    pub latest_release: Option<ReleaseRef>,
    /// In the flow order of the newest release; environments only older
    /// flows had come last, by name.
    pub environments: Vec<EnvOverview>,
}

/// One environment cell of the dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvOverview {
    pub name: String,
    /// The latest version promoted here.
    pub version: Option<String>,
    /// The release deployed here: the newest one promoted or promoting here.
    pub release: Option<ReleaseRef>,
    /// The status of this environment in that release.
    pub status: Option<EnvStatus>,
}

/// A release named from elsewhere, with its overall status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseRef {
    pub id: i64,
    pub key: String,
    pub status: ReleaseStatus,
}
