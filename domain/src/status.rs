//! The status vocabularies of SPEC §2 (run, environment, release, health),
//! their one spelling on the wire and in SQL, and the aggregation rule of §2.1.
//!
//! Every enum here (de)serializes as its lowercase name and parses
//! case-insensitively, so `status=failed`, a stored `"failed"` column and an
//! Argo `"Failed"` phase all meet the same type. Parsing never panics: an
//! unknown string is `None` (or a serde error naming the accepted values).

use std::fmt;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// Declares a fieldless enum with its canonical lowercase spelling, optional
/// extra spellings accepted by `parse`, and `as_str`/`parse`/`ALL`/`Display`
/// plus serde impls built on them.
macro_rules! status_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $canonical:literal $(| $alias:literal)* ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The canonical lowercase spelling (JSON, SQL, query strings).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $canonical),+
                }
            }

            /// Parses the canonical spelling or an accepted alias, ignoring ASCII
            /// case; `None` for anything else.
            pub fn parse(s: &str) -> Option<$name> {
                $(
                    if s.eq_ignore_ascii_case($canonical) $(|| s.eq_ignore_ascii_case($alias))* {
                        return Some($name::$variant);
                    }
                )+
                None
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                $name::parse(&s)
                    .ok_or_else(|| de::Error::unknown_variant(&s, &[$($canonical),+]))
            }
        }
    };
}

status_enum! {
    /// Status of a step or a workflow run (SPEC §2.1). Argo Workflows phases
    /// are accepted by `parse`: `Succeeded`, `Skipped` and `Omitted` map to
    /// `success`, the others by name.
    pub enum RunStatus {
        Success = "success" | "succeeded" | "skipped" | "omitted",
        Running = "running",
        Pending = "pending",
        Failed = "failed",
        /// A syntax or configuration error of the step or workflow.
        Error = "error",
        /// Stopped, manually or because a newer release superseded it (§2.5).
        Terminated = "terminated",
    }
}

impl RunStatus {
    /// Whether the run or step has ended, successfully or not.
    pub const fn is_finished(self) -> bool {
        matches!(
            self,
            RunStatus::Success | RunStatus::Failed | RunStatus::Error | RunStatus::Terminated
        )
    }

    /// Whether this is one of the statuses that fail an environment (§2.2 rule 1).
    pub const fn is_failure(self) -> bool {
        matches!(
            self,
            RunStatus::Failed | RunStatus::Error | RunStatus::Terminated
        )
    }

    /// Rank in the aggregation order of §2.1; higher wins.
    const fn precedence(self) -> u8 {
        match self {
            RunStatus::Success => 0,
            RunStatus::Pending => 1,
            RunStatus::Running => 2,
            RunStatus::Terminated => 3,
            RunStatus::Failed => 4,
            RunStatus::Error => 5,
        }
    }
}

/// Aggregates statuses per SPEC §2.1: the first present of
/// `error > failed > terminated > running > pending > success`; an empty set
/// is `pending`.
pub fn aggregate<I: IntoIterator<Item = RunStatus>>(statuses: I) -> RunStatus {
    statuses
        .into_iter()
        .max_by_key(|s| s.precedence())
        .unwrap_or(RunStatus::Pending)
}

status_enum! {
    /// Status of one environment of a release (SPEC §2.2).
    pub enum EnvStatus {
        Successful = "successful",
        Running = "running",
        Pending = "pending",
        Failed = "failed",
    }
}

status_enum! {
    /// Why an environment is `failed` (SPEC §2.2 rule 1).
    pub enum FailReason {
        Failed = "failed",
        Error = "error",
        Terminated = "terminated",
        /// A git operation of the promotion failed in the current attempt.
        Git = "git",
    }
}

impl FailReason {
    /// The reason a run of this status gives, if it fails the environment.
    pub const fn of_run(status: RunStatus) -> Option<FailReason> {
        match status {
            RunStatus::Failed => Some(FailReason::Failed),
            RunStatus::Error => Some(FailReason::Error),
            RunStatus::Terminated => Some(FailReason::Terminated),
            RunStatus::Success | RunStatus::Running | RunStatus::Pending => None,
        }
    }
}

status_enum! {
    /// Status of a whole release (SPEC §2.3).
    pub enum ReleaseStatus {
        Successful = "successful",
        Progressing = "progressing",
        Terminated = "terminated",
        Failed = "failed",
    }
}

impl ReleaseStatus {
    /// Release status from its environments' statuses and failure reasons,
    /// per SPEC §2.3. A release with no environments is `progressing`
    /// (validated flows always have at least one).
    pub fn of_environments<I>(envs: I) -> ReleaseStatus
    where
        I: IntoIterator<Item = (EnvStatus, Option<FailReason>)>,
    {
        let mut any = false;
        let mut all_successful = true;
        let mut terminated = false;
        for (status, reason) in envs {
            any = true;
            match (status, reason) {
                (EnvStatus::Failed, Some(FailReason::Terminated)) => terminated = true,
                // A failed environment without a recorded reason still fails the release.
                (EnvStatus::Failed, _) => return ReleaseStatus::Failed,
                (EnvStatus::Successful, _) => {}
                (EnvStatus::Running | EnvStatus::Pending, _) => all_successful = false,
            }
        }
        if terminated {
            ReleaseStatus::Terminated
        } else if any && all_successful {
            ReleaseStatus::Successful
        } else {
            ReleaseStatus::Progressing
        }
    }

    /// Whether a restart may be requested (SPEC §2.6).
    pub const fn is_restartable(self) -> bool {
        matches!(self, ReleaseStatus::Failed | ReleaseStatus::Terminated)
    }
}

status_enum! {
    /// Which side of the promotion commit a workflow runs on; `pre` sorts first.
    #[derive(PartialOrd, Ord)]
    pub enum Phase {
        Pre = "pre",
        Post = "post",
    }
}

status_enum! {
    /// Health of a deployed application, as Argo CD reports it (its
    /// capitalised spelling is accepted). Shown, never part of a status (§3).
    pub enum Health {
        Healthy = "healthy",
        Progressing = "progressing",
        Degraded = "degraded",
        Suspended = "suspended",
        Missing = "missing",
        Unknown = "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use RunStatus::*;

    #[test]
    fn aggregation_picks_first_present_in_precedence_order() {
        let table: &[(&[RunStatus], RunStatus)] = &[
            (
                &[Success, Pending, Running, Terminated, Failed, Error],
                Error,
            ),
            (&[Success, Pending, Running, Terminated, Failed], Failed),
            (&[Success, Pending, Running, Terminated], Terminated),
            (&[Success, Pending, Running], Running),
            (&[Success, Pending], Pending),
            (&[Success, Success], Success),
            (&[Error, Success], Error),
            (&[Terminated, Running], Terminated),
            (&[Running, Pending], Running),
        ];
        for (input, expected) in table {
            assert_eq!(aggregate(input.iter().copied()), *expected, "{input:?}");
        }
    }

    #[test]
    fn aggregation_of_empty_set_is_pending() {
        assert_eq!(aggregate([]), Pending);
    }

    #[test]
    fn run_status_parses_ours_and_argo_phases() {
        let table = [
            ("success", Some(Success)),
            ("running", Some(Running)),
            ("pending", Some(Pending)),
            ("failed", Some(Failed)),
            ("error", Some(Error)),
            ("terminated", Some(Terminated)),
            ("Succeeded", Some(Success)),
            ("Skipped", Some(Success)),
            ("Omitted", Some(Success)),
            ("Pending", Some(Pending)),
            ("Running", Some(Running)),
            ("Failed", Some(Failed)),
            ("Error", Some(Error)),
            ("FAILED", Some(Failed)),
            ("", None),
            ("done", None),
        ];
        for (input, expected) in table {
            assert_eq!(RunStatus::parse(input), expected, "{input:?}");
        }
    }

    #[test]
    fn finished_statuses_are_success_failed_error_terminated() {
        let finished: Vec<_> = RunStatus::ALL
            .iter()
            .filter(|s| s.is_finished())
            .copied()
            .collect();
        assert_eq!(finished, [Success, Failed, Error, Terminated]);
    }

    #[test]
    fn health_parses_argo_cd_spelling() {
        for (input, expected) in [
            ("Healthy", Health::Healthy),
            ("Progressing", Health::Progressing),
            ("Degraded", Health::Degraded),
            ("Suspended", Health::Suspended),
            ("Missing", Health::Missing),
            ("Unknown", Health::Unknown),
            ("degraded", Health::Degraded),
        ] {
            assert_eq!(Health::parse(input), Some(expected), "{input}");
        }
        assert_eq!(Health::parse("sick"), None);
    }

    #[test]
    fn every_enum_round_trips_through_as_str_and_serde() {
        fn check<T>(all: &[T], as_str: fn(T) -> &'static str, parse: fn(&str) -> Option<T>)
        where
            T: Copy + PartialEq + fmt::Debug + Serialize + for<'de> Deserialize<'de>,
        {
            for &v in all {
                let s = as_str(v);
                assert_eq!(s, s.to_lowercase());
                assert_eq!(parse(s), Some(v));
                let json = serde_json::to_string(&v).expect("serializes");
                assert_eq!(json, format!("\"{s}\""));
                assert_eq!(serde_json::from_str::<T>(&json).expect("deserializes"), v);
            }
        }
        check(RunStatus::ALL, RunStatus::as_str, RunStatus::parse);
        check(EnvStatus::ALL, EnvStatus::as_str, EnvStatus::parse);
        check(FailReason::ALL, FailReason::as_str, FailReason::parse);
        check(
            ReleaseStatus::ALL,
            ReleaseStatus::as_str,
            ReleaseStatus::parse,
        );
        check(Phase::ALL, Phase::as_str, Phase::parse);
        check(Health::ALL, Health::as_str, Health::parse);
    }

    #[test]
    fn unknown_spelling_is_a_serde_error_naming_accepted_values() {
        let err = serde_json::from_str::<Phase>("\"during\"").expect_err("not a phase");
        assert!(err.to_string().contains("pre"), "{err}");
    }

    #[test]
    fn release_status_rules() {
        use EnvStatus as E;
        use FailReason as R;
        type Case<'a> = (&'a [(E, Option<R>)], ReleaseStatus);
        let table: &[Case<'_>] = &[
            // 1. failed for any reason other than terminated
            (
                &[(E::Failed, Some(R::Failed)), (E::Successful, None)],
                ReleaseStatus::Failed,
            ),
            (&[(E::Failed, Some(R::Error))], ReleaseStatus::Failed),
            (&[(E::Failed, Some(R::Git))], ReleaseStatus::Failed),
            (
                &[(E::Failed, Some(R::Terminated)), (E::Failed, Some(R::Git))],
                ReleaseStatus::Failed,
            ),
            // 2. else terminated
            (
                &[(E::Failed, Some(R::Terminated)), (E::Running, None)],
                ReleaseStatus::Terminated,
            ),
            // 3. else successful when every environment is
            (
                &[(E::Successful, None), (E::Successful, None)],
                ReleaseStatus::Successful,
            ),
            // 4. else progressing
            (
                &[(E::Successful, None), (E::Pending, None)],
                ReleaseStatus::Progressing,
            ),
            (&[(E::Running, None)], ReleaseStatus::Progressing),
            (&[(E::Pending, None)], ReleaseStatus::Progressing),
        ];
        for (envs, expected) in table {
            assert_eq!(
                ReleaseStatus::of_environments(envs.iter().copied()),
                *expected,
                "{envs:?}"
            );
        }
    }

    fn any_status() -> impl Strategy<Value = RunStatus> {
        proptest::sample::select(RunStatus::ALL)
    }

    fn any_env() -> impl Strategy<Value = (EnvStatus, Option<FailReason>)> {
        proptest::sample::select(EnvStatus::ALL).prop_flat_map(|status| {
            let reason = if status == EnvStatus::Failed {
                proptest::option::of(proptest::sample::select(FailReason::ALL)).boxed()
            } else {
                Just(None).boxed()
            };
            reason.prop_map(move |r| (status, r))
        })
    }

    proptest! {
        #[test]
        fn aggregation_ignores_order(
            (statuses, shuffled) in proptest::collection::vec(any_status(), 0..12)
                .prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle()))
        ) {
            prop_assert_eq!(aggregate(statuses), aggregate(shuffled));
        }

        #[test]
        fn release_successful_exactly_when_all_envs_successful(
            envs in proptest::collection::vec(any_env(), 1..10)
        ) {
            let all = envs.iter().all(|(s, _)| *s == EnvStatus::Successful);
            let successful = ReleaseStatus::of_environments(envs) == ReleaseStatus::Successful;
            prop_assert_eq!(successful, all);
        }
    }
}
