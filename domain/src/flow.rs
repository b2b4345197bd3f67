//! Promotion flows: the JSON shape a release snapshots (`FlowSpec`, SPEC §4.2)
//! and the validated DAG (`Flow`) every other rule walks.
//!
//! A `Flow` can only be built through validation, so code holding one may rely
//! on: at least one environment, unique non-blank names, a known trigger that
//! is the only root and has no pre-action, every dependency known, no cycle.
//! Its environments are kept in **flow order**: topological, ties broken by
//! declaration order.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize, Serializer};

use super::status::Phase;

/// A promotion flow as sent in `release.created.data.flow`, unvalidated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowSpec {
    pub name: String,
    /// The environment where a change first lands; the flow's only root.
    pub trigger: String,
    pub environments: Vec<EnvSpec>,
}

/// One environment of a flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvSpec {
    pub name: String,
    /// Environments that must succeed before this one is promoted.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Applications of the product deployed here; each runs the actions.
    pub applications: Vec<String>,
    /// Workflow run before the promotion commit (never on the trigger).
    pub pre_action: Option<String>,
    /// Workflow run after the promotion commit.
    pub post_action: Option<String>,
}

impl EnvSpec {
    /// The workflow runs this environment expects (SPEC §2.2): its
    /// applications × pre-action, then × post-action, as
    /// `(phase, workflow, application)`.
    pub fn expected_runs(&self) -> impl Iterator<Item = (Phase, &str, &str)> + '_ {
        [
            (Phase::Pre, &self.pre_action),
            (Phase::Post, &self.post_action),
        ]
        .into_iter()
        .filter_map(|(phase, action)| Some((phase, action.as_deref()?)))
        .flat_map(|(phase, workflow)| {
            self.applications
                .iter()
                .map(move |app| (phase, workflow, app.as_str()))
        })
    }
}

/// Why a `FlowSpec` is not a valid flow. Each variant names the offenders.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    #[error("the flow has no environments")]
    Empty,
    #[error("the flow name is empty")]
    EmptyName,
    #[error("environment #{0} has an empty name")]
    EmptyEnvironmentName(usize),
    #[error("environment `{0}` lists an empty application name")]
    EmptyApplicationName(String),
    #[error("environment `{environment}` has an empty {phase}_action name")]
    EmptyActionName { environment: String, phase: Phase },
    #[error("environment `{0}` is declared more than once")]
    DuplicateEnvironment(String),
    #[error("environment `{environment}` lists application `{application}` more than once")]
    DuplicateApplication {
        environment: String,
        application: String,
    },
    #[error("trigger `{0}` is not an environment of the flow")]
    UnknownTrigger(String),
    #[error("environment `{environment}` depends on unknown environment `{depends_on}`")]
    UnknownDependency {
        environment: String,
        depends_on: String,
    },
    #[error("environment `{0}` depends on itself")]
    SelfDependency(String),
    #[error("environment `{environment}` lists dependency `{depends_on}` more than once")]
    DuplicateDependency {
        environment: String,
        depends_on: String,
    },
    #[error("trigger environment `{0}` must not depend on other environments")]
    TriggerHasDependencies(String),
    #[error("trigger environment `{0}` must not have a pre_action")]
    TriggerHasPreAction(String),
    #[error("only the trigger may have no dependencies, but {} also do", quoted(.0))]
    ExtraRoot(Vec<String>),
    #[error("the environments form a cycle: {}", cycle(.0))]
    Cycle(Vec<String>),
}

fn quoted(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    quoted.join(", ")
}

fn cycle(names: &[String]) -> String {
    // Close the loop so the message reads `a → b → a`.
    let mut path: Vec<&str> = names.iter().map(String::as_str).collect();
    if let Some(first) = names.first() {
        path.push(first);
    }
    path.join(" → ")
}

impl FlowError {
    /// The JSON path, relative to the `flow` object, that the error blames;
    /// the HTTP layer prefixes it (`events[3].data.flow.trigger`).
    pub fn field(&self) -> &'static str {
        match self {
            FlowError::EmptyName => "name",
            FlowError::UnknownTrigger(_) => "trigger",
            FlowError::Empty
            | FlowError::EmptyEnvironmentName(_)
            | FlowError::EmptyApplicationName(_)
            | FlowError::EmptyActionName { .. }
            | FlowError::DuplicateEnvironment(_)
            | FlowError::DuplicateApplication { .. }
            | FlowError::UnknownDependency { .. }
            | FlowError::SelfDependency(_)
            | FlowError::DuplicateDependency { .. }
            | FlowError::TriggerHasDependencies(_)
            | FlowError::TriggerHasPreAction(_)
            | FlowError::ExtraRoot(_)
            | FlowError::Cycle(_) => "environments",
        }
    }
}

/// A validated promotion flow. Serializes as its `FlowSpec` (environments in
/// flow order); deserializing validates again.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "FlowSpec")]
pub struct Flow {
    /// Environments in flow order.
    spec: FlowSpec,
    positions: BTreeMap<String, usize>,
    /// Per environment (by position), parent and child positions, ascending.
    parents: Vec<Vec<usize>>,
    children: Vec<Vec<usize>>,
}

impl Flow {
    /// Validates `spec` (SPEC §4.2) and orders its environments.
    ///
    /// Fails with the first violation found, checking names first, then
    /// references, then the shape of the graph.
    pub fn new(spec: FlowSpec) -> Result<Flow, FlowError> {
        check_names(&spec)?;
        let declared: BTreeMap<&str, usize> = spec
            .environments
            .iter()
            .enumerate()
            .map(|(i, env)| (env.name.as_str(), i))
            .collect();
        let trigger = *declared
            .get(spec.trigger.as_str())
            .ok_or_else(|| FlowError::UnknownTrigger(spec.trigger.clone()))?;

        let mut parents: Vec<Vec<usize>> = Vec::with_capacity(spec.environments.len());
        for env in &spec.environments {
            let mut seen = BTreeSet::new();
            let mut env_parents = Vec::with_capacity(env.depends_on.len());
            for dep in &env.depends_on {
                if *dep == env.name {
                    return Err(FlowError::SelfDependency(env.name.clone()));
                }
                let &parent =
                    declared
                        .get(dep.as_str())
                        .ok_or_else(|| FlowError::UnknownDependency {
                            environment: env.name.clone(),
                            depends_on: dep.clone(),
                        })?;
                if !seen.insert(parent) {
                    return Err(FlowError::DuplicateDependency {
                        environment: env.name.clone(),
                        depends_on: dep.clone(),
                    });
                }
                env_parents.push(parent);
            }
            parents.push(env_parents);
        }

        let trigger_env = &spec.environments[trigger];
        if !trigger_env.depends_on.is_empty() {
            return Err(FlowError::TriggerHasDependencies(trigger_env.name.clone()));
        }
        if trigger_env.pre_action.is_some() {
            return Err(FlowError::TriggerHasPreAction(trigger_env.name.clone()));
        }
        let extra_roots: Vec<String> = spec
            .environments
            .iter()
            .enumerate()
            .filter(|&(i, env)| i != trigger && env.depends_on.is_empty())
            .map(|(_, env)| env.name.clone())
            .collect();
        if !extra_roots.is_empty() {
            return Err(FlowError::ExtraRoot(extra_roots));
        }

        let order = flow_order(&parents).map_err(|cycle| {
            FlowError::Cycle(
                cycle
                    .into_iter()
                    .map(|i| spec.environments[i].name.clone())
                    .collect(),
            )
        })?;
        Ok(Flow::from_order(spec, &parents, &order))
    }

    /// Rebuilds the spec and adjacency with environments in `order`
    /// (declaration indices).
    fn from_order(spec: FlowSpec, declared_parents: &[Vec<usize>], order: &[usize]) -> Flow {
        let mut position = vec![0; order.len()];
        for (pos, &declared) in order.iter().enumerate() {
            position[declared] = pos;
        }
        let mut slots: Vec<Option<EnvSpec>> = spec.environments.into_iter().map(Some).collect();
        let environments: Vec<EnvSpec> = order.iter().filter_map(|&i| slots[i].take()).collect();

        let mut parents = vec![Vec::new(); order.len()];
        let mut children = vec![Vec::new(); order.len()];
        for (declared, declared_parents) in declared_parents.iter().enumerate() {
            let child = position[declared];
            for &p in declared_parents {
                parents[child].push(position[p]);
                children[position[p]].push(child);
            }
        }
        parents.iter_mut().for_each(|p| p.sort_unstable());
        children.iter_mut().for_each(|c| c.sort_unstable());

        let positions = environments
            .iter()
            .enumerate()
            .map(|(i, env)| (env.name.clone(), i))
            .collect();
        Flow {
            spec: FlowSpec {
                name: spec.name,
                trigger: spec.trigger,
                environments,
            },
            positions,
            parents,
            children,
        }
    }

    /// The flow's name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The trigger environment's name.
    pub fn trigger(&self) -> &str {
        &self.spec.trigger
    }

    /// The environments in flow order (the trigger first).
    pub fn environments(&self) -> &[EnvSpec] {
        &self.spec.environments
    }

    /// The validated spec, environments in flow order.
    pub fn spec(&self) -> &FlowSpec {
        &self.spec
    }

    /// The environment called `name`.
    pub fn env(&self, name: &str) -> Option<&EnvSpec> {
        self.position(name).map(|i| &self.spec.environments[i])
    }

    /// The index of environment `name` in flow order.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.positions.get(name).copied()
    }

    /// Dependency edges `(parent, child)`, ordered by parent then child in
    /// flow order.
    pub fn edges(&self) -> Vec<(String, String)> {
        self.edge_positions()
            .map(|(p, c)| {
                (
                    self.spec.environments[p].name.clone(),
                    self.spec.environments[c].name.clone(),
                )
            })
            .collect()
    }

    /// `edges()` as flow-order positions.
    pub fn edge_positions(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.children
            .iter()
            .enumerate()
            .flat_map(|(p, children)| children.iter().map(move |&c| (p, c)))
    }

    /// The direct dependencies of `name`, in flow order; empty for an unknown name.
    pub fn parents(&self, name: &str) -> Vec<String> {
        self.names(
            self.position(name)
                .map_or(&[][..], |i| self.parent_positions(i)),
        )
    }

    /// Flow-order positions of the parents of the environment at `position`.
    pub fn parent_positions(&self, position: usize) -> &[usize] {
        self.parents.get(position).map_or(&[], Vec::as_slice)
    }

    /// Flow-order positions of the children of the environment at `position`.
    pub fn child_positions(&self, position: usize) -> &[usize] {
        self.children.get(position).map_or(&[], Vec::as_slice)
    }

    /// Every environment reachable from `name` (excluding itself), in flow
    /// order; empty for an unknown name.
    pub fn downstream(&self, name: &str) -> Vec<String> {
        let Some(start) = self.position(name) else {
            return Vec::new();
        };
        let mut reached = vec![false; self.spec.environments.len()];
        // Children always come later in flow order, so one forward pass suffices.
        reached[start] = true;
        for i in start..reached.len() {
            if reached[i] {
                for &c in &self.children[i] {
                    reached[c] = true;
                }
            }
        }
        reached[start] = false;
        self.spec
            .environments
            .iter()
            .zip(reached)
            .filter(|(_, r)| *r)
            .map(|(env, _)| env.name.clone())
            .collect()
    }

    /// The workflow runs environment `env` expects, owned (see
    /// `EnvSpec::expected_runs`). Empty for an unknown environment.
    pub fn expected_runs(&self, env: &str) -> Vec<(Phase, String, String)> {
        self.env(env).map_or_else(Vec::new, |spec| {
            spec.expected_runs()
                .map(|(phase, workflow, app)| (phase, workflow.to_owned(), app.to_owned()))
                .collect()
        })
    }

    fn names(&self, positions: &[usize]) -> Vec<String> {
        positions
            .iter()
            .map(|&i| self.spec.environments[i].name.clone())
            .collect()
    }
}

impl TryFrom<FlowSpec> for Flow {
    type Error = FlowError;

    fn try_from(spec: FlowSpec) -> Result<Flow, FlowError> {
        Flow::new(spec)
    }
}

impl From<Flow> for FlowSpec {
    fn from(flow: Flow) -> FlowSpec {
        flow.spec
    }
}

impl Serialize for Flow {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.spec.serialize(serializer)
    }
}

fn is_blank(s: &str) -> bool {
    s.trim().is_empty()
}

fn check_names(spec: &FlowSpec) -> Result<(), FlowError> {
    if spec.environments.is_empty() {
        return Err(FlowError::Empty);
    }
    if is_blank(&spec.name) {
        return Err(FlowError::EmptyName);
    }
    let mut names = BTreeSet::new();
    for (i, env) in spec.environments.iter().enumerate() {
        if is_blank(&env.name) {
            return Err(FlowError::EmptyEnvironmentName(i));
        }
        if !names.insert(env.name.as_str()) {
            return Err(FlowError::DuplicateEnvironment(env.name.clone()));
        }
        let mut apps = BTreeSet::new();
        for app in &env.applications {
            if is_blank(app) {
                return Err(FlowError::EmptyApplicationName(env.name.clone()));
            }
            if !apps.insert(app.as_str()) {
                return Err(FlowError::DuplicateApplication {
                    environment: env.name.clone(),
                    application: app.clone(),
                });
            }
        }
        for (phase, action) in [
            (Phase::Pre, &env.pre_action),
            (Phase::Post, &env.post_action),
        ] {
            if action.as_deref().is_some_and(is_blank) {
                return Err(FlowError::EmptyActionName {
                    environment: env.name.clone(),
                    phase,
                });
            }
        }
    }
    Ok(())
}

/// Topological order (Kahn), always taking the earliest-declared ready node so
/// ties keep declaration order. On a cycle returns one cycle, in edge order.
fn flow_order(parents: &[Vec<usize>]) -> Result<Vec<usize>, Vec<usize>> {
    let n = parents.len();
    let mut children = vec![Vec::new(); n];
    for (child, ps) in parents.iter().enumerate() {
        for &p in ps {
            children[p].push(child);
        }
    }
    let mut missing: Vec<usize> = parents.iter().map(Vec::len).collect();
    let mut ready: BTreeSet<usize> = (0..n).filter(|&i| missing[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(next) = ready.pop_first() {
        order.push(next);
        for &c in &children[next] {
            missing[c] -= 1;
            if missing[c] == 0 {
                ready.insert(c);
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    Err(find_cycle(parents, &missing))
}

/// Walks parent links among the unordered nodes (each has at least one
/// unordered parent) until a node repeats; the repeated stretch is a cycle.
fn find_cycle(parents: &[Vec<usize>], missing: &[usize]) -> Vec<usize> {
    let stuck = |i: usize| missing[i] > 0;
    let Some(start) = (0..parents.len()).find(|&i| stuck(i)) else {
        return Vec::new();
    };
    let mut walk = vec![start];
    let mut seen_at = BTreeMap::from([(start, 0)]);
    let mut current = start;
    while let Some(&parent) = parents[current].iter().find(|&&p| stuck(p)) {
        if let Some(&at) = seen_at.get(&parent) {
            // The walk went child → parent; reverse it to read parent → child,
            // then start at the earliest-declared member for a stable message.
            let mut cycle = walk.split_off(at);
            cycle.reverse();
            let earliest = cycle.iter().enumerate().min_by_key(|&(_, &i)| i);
            if let Some((pos, _)) = earliest {
                cycle.rotate_left(pos);
            }
            return cycle;
        }
        seen_at.insert(parent, walk.len());
        walk.push(parent);
        current = parent;
    }
    walk
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{flow, spec};

    fn names(flow: &Flow) -> Vec<&str> {
        flow.environments()
            .iter()
            .map(|e| e.name.as_str())
            .collect()
    }

    #[test]
    fn flow_validation_rejects_each_violation() {
        let none: &[&str] = &[];
        let mut blank_app = spec("dev", &[("dev", none, None, None)]);
        blank_app.environments[0].applications.push(" ".into());
        let mut dup_app = spec("dev", &[("dev", none, None, None)]);
        dup_app.environments[0].applications.push("api".into());
        let mut unnamed = spec("dev", &[("dev", none, None, None)]);
        unnamed.name = String::new();

        let table: Vec<(FlowSpec, FlowError, &str)> = vec![
            (spec("dev", &[]), FlowError::Empty, "environments"),
            (unnamed, FlowError::EmptyName, "name"),
            (
                spec(
                    "dev",
                    &[("dev", none, None, None), ("", &["dev"], None, None)],
                ),
                FlowError::EmptyEnvironmentName(1),
                "environments",
            ),
            (
                blank_app,
                FlowError::EmptyApplicationName("dev".into()),
                "environments",
            ),
            (
                spec("dev", &[("dev", none, None, Some(""))]),
                FlowError::EmptyActionName {
                    environment: "dev".into(),
                    phase: Phase::Post,
                },
                "environments",
            ),
            (
                spec(
                    "dev",
                    &[("dev", none, None, None), ("dev", none, None, None)],
                ),
                FlowError::DuplicateEnvironment("dev".into()),
                "environments",
            ),
            (
                dup_app,
                FlowError::DuplicateApplication {
                    environment: "dev".into(),
                    application: "api".into(),
                },
                "environments",
            ),
            (
                spec("qa", &[("dev", none, None, None)]),
                FlowError::UnknownTrigger("qa".into()),
                "trigger",
            ),
            (
                spec(
                    "dev",
                    &[("dev", none, None, None), ("prod", &["stage"], None, None)],
                ),
                FlowError::UnknownDependency {
                    environment: "prod".into(),
                    depends_on: "stage".into(),
                },
                "environments",
            ),
            (
                spec(
                    "dev",
                    &[("dev", none, None, None), ("qa", &["qa"], None, None)],
                ),
                FlowError::SelfDependency("qa".into()),
                "environments",
            ),
            (
                spec(
                    "dev",
                    &[
                        ("dev", none, None, None),
                        ("qa", &["dev", "dev"], None, None),
                    ],
                ),
                FlowError::DuplicateDependency {
                    environment: "qa".into(),
                    depends_on: "dev".into(),
                },
                "environments",
            ),
            (
                spec(
                    "dev",
                    &[("dev", &["qa"], None, None), ("qa", &["dev"], None, None)],
                ),
                FlowError::TriggerHasDependencies("dev".into()),
                "environments",
            ),
            (
                spec("dev", &[("dev", none, Some("check"), None)]),
                FlowError::TriggerHasPreAction("dev".into()),
                "environments",
            ),
            (
                spec(
                    "dev",
                    &[
                        ("dev", none, None, None),
                        ("qa", none, None, None),
                        ("ops", none, None, None),
                    ],
                ),
                FlowError::ExtraRoot(vec!["qa".into(), "ops".into()]),
                "environments",
            ),
            (
                spec(
                    "dev",
                    &[
                        ("dev", none, None, None),
                        ("a", &["dev", "c"], None, None),
                        ("b", &["a"], None, None),
                        ("c", &["b"], None, None),
                        ("d", &["c"], None, None),
                    ],
                ),
                FlowError::Cycle(vec!["a".into(), "b".into(), "c".into()]),
                "environments",
            ),
        ];
        for (spec, expected, field) in table {
            let err = Flow::new(spec.clone()).expect_err("invalid flow");
            assert_eq!(err, expected, "{spec:?}");
            assert_eq!(err.field(), field, "{err}");
        }
    }

    #[test]
    fn flow_error_messages_name_the_offenders() {
        let cases = [
            (FlowError::Cycle(vec!["a".into(), "b".into()]), "a → b → a"),
            (
                FlowError::ExtraRoot(vec!["qa".into(), "ops".into()]),
                "`qa`, `ops`",
            ),
            (
                FlowError::UnknownDependency {
                    environment: "prod".into(),
                    depends_on: "stage".into(),
                },
                "`prod` depends on unknown environment `stage`",
            ),
        ];
        for (err, fragment) in cases {
            assert!(err.to_string().contains(fragment), "{err}");
        }
    }

    #[test]
    fn flow_order_is_topological_then_declared() {
        let flow = flow(&[
            ("dev", &[]),
            ("prod", &["staging", "qa"]),
            ("staging", &["dev"]),
            ("qa", &["dev"]),
            ("perf", &["staging"]),
        ]);
        assert_eq!(names(&flow), ["dev", "staging", "qa", "prod", "perf"]);
        assert_eq!(
            flow.edges(),
            [
                ("dev".into(), "staging".into()),
                ("dev".into(), "qa".into()),
                ("staging".into(), "prod".into()),
                ("staging".into(), "perf".into()),
                ("qa".into(), "prod".into()),
            ]
        );
        assert_eq!(flow.parents("prod"), ["staging", "qa"]);
        assert_eq!(flow.downstream("staging"), ["prod", "perf"]);
        assert_eq!(flow.downstream("dev"), ["staging", "qa", "prod", "perf"]);
        assert!(flow.downstream("prod").is_empty());
        assert!(flow.downstream("nowhere").is_empty());
        assert!(flow.parents("nowhere").is_empty());
    }

    #[test]
    fn expected_runs_are_applications_times_actions() {
        let none: &[&str] = &[];
        let flow = Flow::new(spec(
            "dev",
            &[
                ("dev", none, None, Some("smoke")),
                ("qa", &["dev"], Some("backup"), Some("e2e")),
                ("prod", &["qa"], None, None),
            ],
        ))
        .expect("valid flow");
        let run = |p, w: &str, a: &str| (p, w.to_string(), a.to_string());
        assert_eq!(
            flow.expected_runs("dev"),
            [
                run(Phase::Post, "smoke", "api"),
                run(Phase::Post, "smoke", "web")
            ]
        );
        assert_eq!(
            flow.expected_runs("qa"),
            [
                run(Phase::Pre, "backup", "api"),
                run(Phase::Pre, "backup", "web"),
                run(Phase::Post, "e2e", "api"),
                run(Phase::Post, "e2e", "web"),
            ]
        );
        assert!(flow.expected_runs("prod").is_empty());
        assert!(flow.expected_runs("nowhere").is_empty());
    }

    #[test]
    fn flow_json_round_trips_and_revalidates() {
        let json = r#"{"name": "main", "trigger": "dev", "environments": [
            {"name": "prod", "depends_on": ["dev"], "applications": ["api"],
             "pre_action": "approve", "post_action": null},
            {"name": "dev", "applications": ["api"], "pre_action": null, "post_action": "smoke"}]}"#;
        let flow: Flow = serde_json::from_str(json).expect("valid flow");
        assert_eq!(names(&flow), ["dev", "prod"]);
        let again: Flow = serde_json::from_str(&serde_json::to_string(&flow).expect("serializes"))
            .expect("deserializes");
        assert_eq!(again, flow);

        let bad = r#"{"name": "main", "trigger": "qa", "environments": [
            {"name": "dev", "applications": [], "pre_action": null, "post_action": null}]}"#;
        let err = serde_json::from_str::<Flow>(bad).expect_err("unknown trigger");
        assert!(err.to_string().contains("trigger `qa`"), "{err}");
    }
}
