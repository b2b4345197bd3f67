//! Release notes: the commits, pull requests and issues of releases, with
//! issue keys (`ABC-123`, `#123`) found in commit messages and PR titles.
//! Pure; the store loads the releases.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::{Changes, Commit, IssueRef, PullRequest};

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

/// The changes of one release: its `changes`, or its trigger commit when
/// it listed no commits, plus the issue keys mentioned.
pub fn release_changes(trigger: &Commit, changes: &Changes) -> NoteChanges {
    let commits = if changes.commits.is_empty() {
        vec![trigger.clone()]
    } else {
        changes.commits.clone()
    };
    let mut notes = NoteChanges {
        commits,
        pull_requests: changes.pull_requests.clone(),
        issues: changes.issues.clone(),
    };
    let mentioned: Vec<String> = notes
        .commits
        .iter()
        .map(|c| c.message.as_str())
        .chain(notes.pull_requests.iter().map(|p| p.title.as_str()))
        .flat_map(issue_keys)
        .collect();
    let mut known: BTreeSet<String> = notes.issues.iter().map(|i| i.key.clone()).collect();
    for key in mentioned {
        if known.insert(key.clone()) {
            notes.issues.push(IssueRef {
                key,
                title: None,
                url: None,
            });
        }
    }
    notes
}

/// Appends `more` to `into`, skipping commits (by sha), pull requests (by
/// number) and issues (by key) already there.
pub fn merge(into: &mut NoteChanges, more: NoteChanges) {
    let shas: BTreeSet<String> = into.commits.iter().map(|c| c.sha.clone()).collect();
    let numbers: BTreeSet<i64> = into.pull_requests.iter().map(|p| p.number).collect();
    let keys: BTreeSet<String> = into.issues.iter().map(|i| i.key.clone()).collect();
    into.commits
        .extend(more.commits.into_iter().filter(|c| !shas.contains(&c.sha)));
    into.pull_requests.extend(
        more.pull_requests
            .into_iter()
            .filter(|p| !numbers.contains(&p.number)),
    );
    into.issues
        .extend(more.issues.into_iter().filter(|i| !keys.contains(&i.key)));
}

/// Issue keys in `text`, in order of appearance: `ABC-123` (an uppercase
/// project key of two or more characters) and `#123`, each standing alone
/// (not inside a longer word).
pub fn issue_keys(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut keys = Vec::new();
    let mut seen = BTreeSet::new();
    let mut i = 0;
    while i < chars.len() {
        let standalone = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        if standalone {
            if let Some(end) = tracker_key(&chars, i).or_else(|| hash_key(&chars, i)) {
                let followed = chars
                    .get(end)
                    .is_some_and(|c| c.is_alphanumeric() || *c == '_');
                if !followed {
                    let key: String = chars[i..end].iter().collect();
                    if seen.insert(key.clone()) {
                        keys.push(key);
                    }
                    i = end;
                    continue;
                }
            }
        }
        i += 1;
    }
    keys
}

/// The end of an `ABC-123` key starting at `start`.
fn tracker_key(chars: &[char], start: usize) -> Option<usize> {
    if !chars.get(start)?.is_ascii_uppercase() {
        return None;
    }
    let mut i = start + 1;
    while chars
        .get(i)
        .is_some_and(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        i += 1;
    }
    if i - start < 2 || chars.get(i) != Some(&'-') {
        return None;
    }
    digits_end(chars, i + 1)
}

/// The end of a `#123` key starting at `start`.
fn hash_key(chars: &[char], start: usize) -> Option<usize> {
    if chars.get(start) != Some(&'#') {
        return None;
    }
    digits_end(chars, start + 1)
}

fn digits_end(chars: &[char], start: usize) -> Option<usize> {
    let mut i = start;
    while chars.get(i).is_some_and(char::is_ascii_digit) {
        i += 1;
    }
    (i > start).then_some(i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Author, PullRequest};

    #[test]
    fn finds_tracker_and_hash_keys_standing_alone() {
        let table: &[(&str, &[&str])] = &[
            ("Fix ABC-123: crash", &["ABC-123"]),
            ("Refs #42 and #7.", &["#42", "#7"]),
            ("PROJ2-9, AB-1", &["PROJ2-9", "AB-1"]),
            ("A-1 is too short, abc-1 lowercase", &[]),
            ("xABC-1 and ABC-1x and ABC- and # and a#1", &[]),
            ("ABC-1 ABC-1 again", &["ABC-1"]),
            ("(ABC-12)", &["ABC-12"]),
        ];
        for (text, expected) in table {
            assert_eq!(issue_keys(text), *expected, "{text:?}");
        }
    }

    fn commit(sha: &str, message: &str) -> Commit {
        Commit {
            sha: sha.into(),
            message: message.into(),
            author: Author {
                name: "Ann".into(),
                email: None,
            },
            url: None,
            timestamp: None,
        }
    }

    #[test]
    fn release_changes_add_mentioned_issues_once() {
        let changes = Changes {
            commits: vec![commit("a", "Fix ABC-1"), commit("b", "See #9 and ABC-1")],
            pull_requests: vec![PullRequest {
                number: 9,
                title: "OPS-2 tidy".into(),
                url: None,
                author: None,
            }],
            issues: vec![IssueRef {
                key: "ABC-1".into(),
                title: Some("Crash".into()),
                url: None,
            }],
        };
        let notes = release_changes(&commit("t", "trigger"), &changes);
        let keys: Vec<&str> = notes.issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, ["ABC-1", "#9", "OPS-2"]);
        assert_eq!(notes.issues[0].title.as_deref(), Some("Crash"));

        let trigger_only = release_changes(&commit("t", "Fix XY-5"), &Changes::default());
        assert_eq!(trigger_only.commits.len(), 1);
        assert_eq!(trigger_only.issues[0].key, "XY-5");
    }

    #[test]
    fn merge_skips_what_is_there() {
        let mut notes = release_changes(&commit("a", "ABC-1"), &Changes::default());
        merge(
            &mut notes,
            release_changes(&commit("a", "ABC-1"), &Changes::default()),
        );
        merge(
            &mut notes,
            release_changes(&commit("b", "ABC-2"), &Changes::default()),
        );
        assert_eq!(notes.commits.len(), 2);
        assert_eq!(notes.issues.len(), 2);
    }
}
