//! The demo organisation: four products with different flow shapes, their
//! workflows and step names, and the words their commits, failures and logs
//! are made of.

/// One environment of a demo flow.
pub struct EnvDef {
    pub name: &'static str,
    pub depends_on: &'static [&'static str],
    pub pre: Option<&'static str>,
    pub post: Option<&'static str>,
}

pub struct ProductDef {
    pub slug: &'static str,
    pub flow: &'static str,
    pub applications: &'static [&'static str],
    /// Issue-tracker prefix of the team (`CHK-123`).
    pub issue_prefix: &'static str,
    /// Environments in flow order: the first is the trigger.
    pub environments: &'static [EnvDef],
}

const fn env(
    name: &'static str,
    depends_on: &'static [&'static str],
    pre: Option<&'static str>,
    post: Option<&'static str>,
) -> EnvDef {
    EnvDef {
        name,
        depends_on,
        pre,
        post,
    }
}

pub static PRODUCTS: &[ProductDef] = &[
    ProductDef {
        slug: "checkout",
        flow: "linear",
        applications: &["checkout-api", "checkout-web"],
        issue_prefix: "CHK",
        environments: &[
            env("dev", &[], None, Some("integration-tests")),
            env(
                "staging",
                &["dev"],
                Some("db-migrations"),
                Some("e2e-tests"),
            ),
            env(
                "prod",
                &["staging"],
                Some("change-approval"),
                Some("synthetic-checks"),
            ),
        ],
    },
    ProductDef {
        slug: "payments",
        flow: "diamond",
        applications: &["payments-api", "ledger-worker", "fraud-scorer"],
        issue_prefix: "PAY",
        environments: &[
            env("dev", &[], None, Some("integration-tests")),
            env(
                "qa",
                &["dev"],
                Some("db-migrations"),
                Some("contract-tests"),
            ),
            env(
                "staging",
                &["dev"],
                Some("db-migrations"),
                Some("e2e-tests"),
            ),
            env(
                "prod",
                &["qa", "staging"],
                Some("change-approval"),
                Some("synthetic-checks"),
            ),
        ],
    },
    ProductDef {
        slug: "storefront",
        flow: "regional",
        applications: &["storefront-web", "catalog-api"],
        issue_prefix: "SF",
        environments: &[
            env("dev", &[], None, Some("integration-tests")),
            env(
                "eu-staging",
                &["dev"],
                Some("smoke-tests"),
                Some("e2e-tests"),
            ),
            env(
                "us-staging",
                &["dev"],
                Some("smoke-tests"),
                Some("e2e-tests"),
            ),
            env(
                "eu-prod",
                &["eu-staging"],
                Some("change-approval"),
                Some("synthetic-checks"),
            ),
            env(
                "us-prod",
                &["us-staging"],
                Some("change-approval"),
                Some("synthetic-checks"),
            ),
        ],
    },
    ProductDef {
        slug: "platform",
        flow: "global-canary",
        applications: &["gateway", "auth-service", "rate-limiter"],
        issue_prefix: "PLAT",
        environments: &[
            env("build", &[], None, Some("build-and-scan")),
            env("dev", &["build"], None, Some("integration-tests")),
            env(
                "staging",
                &["dev"],
                Some("db-migrations"),
                Some("e2e-tests"),
            ),
            env("canary-eu", &["staging"], Some("canary-analysis"), None),
            env("canary-us", &["staging"], Some("canary-analysis"), None),
            env("canary-ap", &["staging"], Some("canary-analysis"), None),
            env(
                "prod-eu-1",
                &["canary-eu"],
                Some("change-approval"),
                Some("synthetic-checks"),
            ),
            env(
                "prod-eu-2",
                &["canary-eu"],
                Some("change-approval"),
                Some("synthetic-checks"),
            ),
            env(
                "prod-us-1",
                &["canary-us"],
                Some("change-approval"),
                Some("synthetic-checks"),
            ),
            env(
                "prod-us-2",
                &["canary-us"],
                Some("change-approval"),
                Some("synthetic-checks"),
            ),
            env(
                "prod-ap-1",
                &["canary-ap"],
                Some("change-approval"),
                Some("synthetic-checks"),
            ),
            env(
                "global-edge",
                &[
                    "prod-eu-1",
                    "prod-eu-2",
                    "prod-us-1",
                    "prod-us-2",
                    "prod-ap-1",
                ],
                None,
                Some("synthetic-checks"),
            ),
        ],
    },
];

/// The steps of each workflow, in order.
pub fn workflow_steps(workflow: &str) -> &'static [&'static str] {
    match workflow {
        "integration-tests" => &[
            "checkout",
            "install-deps",
            "unit-tests",
            "integration-tests",
            "publish-report",
        ],
        "build-and-scan" => &[
            "checkout",
            "build-image",
            "trivy-scan",
            "sign-image",
            "push-image",
        ],
        "db-migrations" => &[
            "fetch-schema",
            "plan-migration",
            "apply-migration",
            "verify-schema",
        ],
        "e2e-tests" => &[
            "wait-for-rollout",
            "seed-test-data",
            "run-playwright",
            "collect-artifacts",
        ],
        "contract-tests" => &["wait-for-rollout", "pact-verify", "publish-results"],
        "smoke-tests" => &["wait-for-rollout", "smoke", "notify-slack"],
        "change-approval" => &[
            "check-freeze-window",
            "check-error-budget",
            "require-approval",
        ],
        "synthetic-checks" => &["http-probes", "latency-slo", "error-rate"],
        "canary-analysis" => &[
            "deploy-canary",
            "shift-10-percent",
            "analyze-metrics",
            "promote-canary",
        ],
        _ => &["run"],
    }
}

pub struct Author {
    pub name: &'static str,
    pub email: &'static str,
    pub login: &'static str,
}

pub static AUTHORS: &[Author] = &[
    Author {
        name: "Amara Okafor",
        email: "amara.okafor@acme.dev",
        login: "aokafor",
    },
    Author {
        name: "Lukas Brandt",
        email: "lukas.brandt@acme.dev",
        login: "lbrandt",
    },
    Author {
        name: "Priya Raman",
        email: "priya.raman@acme.dev",
        login: "praman",
    },
    Author {
        name: "Mateo Silva",
        email: "mateo.silva@acme.dev",
        login: "msilva",
    },
    Author {
        name: "Hannah Kim",
        email: "hannah.kim@acme.dev",
        login: "hkim",
    },
    Author {
        name: "Tomasz Nowak",
        email: "tomasz.nowak@acme.dev",
        login: "tnowak",
    },
    Author {
        name: "Chloé Martin",
        email: "chloe.martin@acme.dev",
        login: "cmartin",
    },
    Author {
        name: "Kwame Mensah",
        email: "kwame.mensah@acme.dev",
        login: "kmensah",
    },
    Author {
        name: "Sofia Rossi",
        email: "sofia.rossi@acme.dev",
        login: "srossi",
    },
    Author {
        name: "Ethan Walsh",
        email: "ethan.walsh@acme.dev",
        login: "ewalsh",
    },
];

/// Commit subjects: `{area}` is replaced by one of the product's areas.
pub static COMMIT_SUBJECTS: &[&str] = &[
    "fix({area}): handle empty responses from upstream",
    "feat({area}): add idempotency keys to write endpoints",
    "chore(deps): bump tokio from 1.52.0 to 1.54.0",
    "fix({area}): retry transient database errors with jitter",
    "perf({area}): cache feature flags for 30s",
    "feat({area}): expose p99 latency per route in metrics",
    "refactor({area}): split request validation from handlers",
    "fix({area}): correct rounding of multi-currency totals",
    "feat({area}): support pagination cursors in list endpoints",
    "chore: raise memory limit to 768Mi after load test",
    "fix({area}): time out slow health checks after 2s",
    "feat({area}): emit audit events for admin actions",
    "chore(ci): run integration tests against Postgres 16",
    "fix({area}): do not log authorization headers",
    "feat({area}): dark mode for the settings page",
    "chore(deps): bump serde_json from 1.0.140 to 1.0.145",
    "fix({area}): release connections on cancelled requests",
    "feat({area}): rate-limit password reset requests",
    "revert: \"perf({area}): cache feature flags for 30s\"",
    "docs({area}): document the retry policy",
];

pub static AREAS: &[&str] = &[
    "api", "cart", "auth", "ledger", "search", "config", "ui", "billing", "gateway",
];

/// How a step of `workflow` fails: the message and the tail of its log,
/// as the tool prints them.
pub fn failure(workflow: &str, step: &str, application: &str) -> (String, String) {
    let (message, logs) = match (workflow, step) {
        (_, "unit-tests" | "integration-tests") => (
            "2 tests failed",
            "running 214 tests\n\
             test orders::create::rejects_negative_quantity ... ok\n\
             test orders::create::applies_promo_code ... FAILED\n\
             test orders::refund::partial_refund_keeps_tax ... FAILED\n\
             test orders::list::paginates_by_cursor ... ok\n\n\
             failures:\n\n\
             ---- orders::create::applies_promo_code stdout ----\n\
             thread 'orders::create::applies_promo_code' panicked at src/orders/create.rs:188:9:\n\
             assertion `left == right` failed\n  left: 4499\n right: 4050\n\n\
             ---- orders::refund::partial_refund_keeps_tax stdout ----\n\
             Error: upstream tax service returned 503 Service Unavailable\n\n\
             failures:\n    orders::create::applies_promo_code\n    orders::refund::partial_refund_keeps_tax\n\n\
             test result: FAILED. 212 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 41.27s\n\
             error: test failed, to rerun pass `--lib`",
        ),
        (_, "run-playwright") => (
            "checkout flow: 1 failed",
            "Running 38 tests using 4 workers\n\
             \u{2713}  1 [chromium] \u{203a} cart.spec.ts:12:3 \u{203a} adds an item (2.1s)\n\
             \u{2713}  2 [chromium] \u{203a} cart.spec.ts:31:3 \u{203a} removes an item (1.8s)\n\
             \u{2718}  3 [chromium] \u{203a} checkout.spec.ts:44:3 \u{203a} pays with a saved card (30.0s)\n\n\
             1) [chromium] \u{203a} checkout.spec.ts:44:3 \u{203a} pays with a saved card\n\
             Error: Timed out 30000ms waiting for expect(locator).toBeVisible()\n\
             Locator: getByTestId('order-confirmation')\n\
             Expected: visible\nReceived: <element(s) not found>\n\n\
             1 failed\n  [chromium] \u{203a} checkout.spec.ts:44:3 \u{203a} pays with a saved card\n37 passed (2.4m)",
        ),
        (_, "apply-migration") => (
            "migration 0042_add_order_index failed",
            "Applying migration 0041_backfill_currency ... ok (2.3s)\n\
             Applying migration 0042_add_order_index ...\n\
             ERROR:  could not create unique index \"orders_external_id_key\"\n\
             DETAIL:  Key (external_id)=(ord_7Hq2kLx9) is duplicated.\n\
             CONTEXT:  SQL statement \"CREATE UNIQUE INDEX CONCURRENTLY orders_external_id_key ON orders (external_id)\"\n\
             migration failed: rolled back 0042_add_order_index\n\
             exit status 1",
        ),
        (_, "trivy-scan") => (
            "1 CRITICAL vulnerability found",
            "2026-11-26T10:14:03Z INFO  Vulnerability scanning is enabled\n\
             2026-11-26T10:14:09Z INFO  Detected OS: debian 12.8\n\n\
             Total: 1 (UNKNOWN: 0, LOW: 0, MEDIUM: 0, HIGH: 0, CRITICAL: 1)\n\n\
             \u{250c}\u{2500} Library \u{2500}\u{252c}\u{2500} Vulnerability \u{2500}\u{252c}\u{2500} Severity \u{2500}\u{2510}\n\
             \u{2502} libssl3  \u{2502} CVE-2026-41022 \u{2502} CRITICAL \u{2502}\n\
             \u{2514}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2534}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2534}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2518}\n\
             exit code 1: --exit-code 1 --severity CRITICAL",
        ),
        (_, "wait-for-rollout" | "deploy-canary") => (
            "rollout did not complete in 300s",
            "Waiting for deployment spec update to be observed...\n\
             Waiting for deployment rollout to finish: 1 of 3 updated replicas are available...\n\
             Waiting for deployment rollout to finish: 1 of 3 updated replicas are available...\n\
             Warning  BackOff  pod/{app}-7d9f8c6b5-x2kqp  Back-off restarting failed container {app} in pod\n\
             Warning  Unhealthy  pod/{app}-7d9f8c6b5-x2kqp  Readiness probe failed: HTTP probe failed with statuscode: 503\n\
             error: timed out waiting for the condition\n\
             exit status 1",
        ),
        (_, "analyze-metrics") => (
            "canary error rate 4.2% exceeds 1% threshold",
            "analysis run {app}-canary-8f2d1 started\n\
             metric success-rate: 0.991 (threshold >= 0.99) Successful\n\
             metric error-rate:   0.042 (threshold <= 0.01) Failed\n\
             metric latency-p99:  412ms (threshold <= 500ms) Successful\n\
             analysis run {app}-canary-8f2d1 Failed: metric \"error-rate\" assessed Failed due to failed (1) > failureLimit (0)\n\
             rolling back canary to stable",
        ),
        (_, "latency-slo" | "http-probes" | "error-rate") => (
            "p99 latency 1.8s over the 800ms SLO",
            "probe GET /healthz ............ 200 in 12ms\n\
             probe GET /api/v1/orders ...... 200 in 1843ms (SLOW)\n\
             probe POST /api/v1/cart ....... 200 in 97ms\n\
             window 5m: p50=88ms p95=940ms p99=1802ms (SLO p99 <= 800ms)\n\
             SLO check failed: latency-p99 burn rate 14.2x over budget",
        ),
        (_, "check-freeze-window") => (
            "deployment freeze in effect",
            "checking change calendar for prod...\n\
             freeze window \"Black Friday\" is active until 2026-11-30T23:59:00Z\n\
             override requires label change-freeze-override and an approver from #release-managers\n\
             exit status 2",
        ),
        (_, "pact-verify") => (
            "pact verification failed for ledger-worker",
            "Verifying a pact between checkout-api and {app}\n\
             \u{2003}a request to post a ledger entry\n\
             \u{2003}\u{2003}returns a response which\n\
             \u{2003}\u{2003}\u{2003}has status code 201 (OK)\n\
             \u{2003}\u{2003}\u{2003}has a matching body (FAILED)\n\n\
             1) $.amount -> Expected 1999 (Integer) but received \"19.99\" (String)\n\
             There were 1 pact failures",
        ),
        _ => (
            "step exited with status 1",
            "+ ./scripts/{step}.sh\n\
             fetching credentials from vault... ok\n\
             error: connection reset by peer while reading from 10.42.3.17:443\n\
             exit status 1",
        ),
    };
    (
        message.to_string(),
        logs.replace("{app}", application).replace("{step}", step),
    )
}

/// A configuration error: the workflow cannot start.
pub fn config_error(workflow: &str) -> String {
    format!(
        "invalid spec: templates.{workflow}.steps[1].arguments.parameters[0].value: \
         unable to resolve {{{{inputs.parameters.image-tag}}}}: parameter not supplied"
    )
}

/// The Argo Workflow manifest of a run.
pub fn manifest(workflow: &str, application: &str, environment: &str, run_id: &str) -> String {
    let steps: String = workflow_steps(workflow)
        .iter()
        .map(|step| {
            format!(
                "    - - name: {step}\n        template: {step}\n        arguments:\n          parameters:\n            - name: application\n              value: {application}\n"
            )
        })
        .collect();
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata:\n  name: {run_id}\n  namespace: promotions\n  labels:\n    releases.acme.dev/environment: {environment}\n    releases.acme.dev/application: {application}\nspec:\n  entrypoint: main\n  serviceAccountName: promotion-runner\n  templates:\n  - name: main\n    steps:\n{steps}"
    )
}

pub static GIT_FAILURES: &[(&str, &str, &str)] = &[
    (
        "push",
        "remote rejected: protected branch hook declined",
        "To git.acme.dev:acme/gitops.git\n ! [remote rejected] main -> main (protected branch hook declined)\nerror: failed to push some refs to 'git.acme.dev:acme/gitops.git'",
    ),
    (
        "commit",
        "merge conflict in values.yaml",
        "CONFLICT (content): Merge conflict in environments/{env}/values.yaml\nAutomatic merge failed; fix conflicts and then commit the result.",
    ),
    (
        "pull-request",
        "could not open the promotion pull request: 422 Unprocessable Entity",
        "POST /repos/acme/gitops/pulls -> 422\n{\"message\":\"Validation Failed\",\"errors\":[{\"resource\":\"PullRequest\",\"code\":\"custom\",\"message\":\"A pull request already exists for acme:promote/{env}.\"}]}",
    ),
];

pub static DEGRADED_MESSAGES: &[&str] = &[
    "Deployment {app}: 1/3 replicas available (CrashLoopBackOff)",
    "Pod {app}-6c8d7f9b4-qz8wm: OOMKilled (limit 512Mi)",
    "Ingress {app}: backend returns 502 for 12% of requests",
    "HorizontalPodAutoscaler {app}: unable to fetch metrics from resource metrics API",
];
