//! Read-API shapes that are not a single release (SPEC §4.3): the products
//! dashboard, a page of the releases list, and the release notes. Plain serde
//! types, compiled for the browser too, so server functions can return them.
//! The release detail and list item are `domain::ReleaseView` and
//! `domain::ReleaseSummary`.

use serde::{Deserialize, Serialize};

use crate::domain::{Commit, EnvStatus, IssueRef, PullRequest, ReleaseStatus, ReleaseSummary};

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

/// `GET /api/v1/products/{product}/releases`: newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleasePage {
    pub releases: Vec<ReleaseSummary>,
    /// Pass as `cursor` for the next (older) page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/products/{product}/releases/{id}/notes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseNotes {
    pub product: String,
    pub release: i64,
    pub key: String,
    /// The trigger commit of the release.
    pub commit: Commit,
    #[serde(flatten)]
    pub changes: NoteChanges,
    /// Per environment in flow order: what changed since the last release
    /// that succeeded there.
    pub environments: Vec<EnvNotes>,
}

/// Commits, pull requests and issues of one or more releases. Issues
/// include the keys (`ABC-123`, `#123`) found in commit messages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NoteChanges {
    pub commits: Vec<Commit>,
    pub pull_requests: Vec<PullRequest>,
    pub issues: Vec<IssueRef>,
}

/// The changes an environment gets with this release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvNotes {
    pub name: String,
    /// The newest older release that succeeded here; `None` if none did.
    pub since: Option<i64>,
    /// The releases whose changes are included, newest first.
    pub releases: Vec<i64>,
    /// Whether older releases were left out (at most a few hundred are read).
    pub truncated: bool,
    #[serde(flatten)]
    pub changes: NoteChanges,
}

/// The query of the releases page, as sent (`?status=&q=&cursor=&limit=`);
/// the service validates it, so bad values answer 400 naming the parameter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReleaseQuery {
    /// A release status, or several separated by commas.
    pub status: Option<String>,
    /// Matches release id or key, commit sha prefix, message, author.
    pub q: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1 to 200; 50 when absent.
    pub limit: Option<String>,
}
