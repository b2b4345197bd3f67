//! Command line: `serve`, `demo`, `migrate`, `token create|list|delete`,
//! `product set-flow`. Every flag can
//! also be given through the environment variable named in `--help`.

use std::net::SocketAddr;
use std::process::ExitCode;

use backend::auth::{self, Role};
use backend::db::{self, Db};
use clap::{Parser, Subcommand, ValueEnum};
use tokio::net::TcpListener;

use crate::router::{shutdown_signal, Launch};

const DEFAULT_DATABASE_URL: &str = "sqlite://data/releases.db";
const DEFAULT_DEMO_DATABASE_URL: &str = "sqlite://data/demo.db";

#[derive(Debug, Parser)]
#[command(
    name = "server",
    version,
    about = "Releases: see how every release of a product is promoted through its environments, live.",
    long_about = None
)]
pub struct Cli {
    /// Address to listen on.
    #[arg(long, env = "LISTEN", default_value = "127.0.0.1:3000", global = true)]
    pub listen: SocketAddr,

    /// Database URL: sqlite://PATH (created when missing) or postgres://USER:PASS@HOST/DB.
    /// Defaults to sqlite://data/releases.db (sqlite://data/demo.db for `demo`).
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,

    /// Allow reading without a token: `--anonymous-read` (or `=true`) turns it
    /// on, `--anonymous-read=false` off. By default it is on only when
    /// listening on loopback, and then only for requests addressed to a
    /// loopback name (`localhost`, `127.0.0.1`, `[::1]`), so that another
    /// site cannot read through the browser by DNS rebinding. Behind a
    /// reverse proxy on the same machine, pass `--anonymous-read=false`.
    #[arg(
        long,
        env = "ANONYMOUS_READ",
        global = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
    )]
    pub anonymous_read: Option<bool>,

    /// The most live streams (GET /api/v1/stream) open at once; more answer
    /// 503. 0: no limit.
    #[arg(long, env = "MAX_STREAMS", default_value_t = 10_000, global = true)]
    pub max_streams: usize,

    /// The most live streams open at once from one client address; more
    /// answer 429 (a browser needs one for all its tabs; behind a proxy every
    /// client has the proxy's address). 0: no limit.
    #[arg(
        long,
        env = "MAX_STREAMS_PER_CLIENT",
        default_value_t = 64,
        global = true
    )]
    pub max_streams_per_client: usize,

    /// Seconds a request may take before it answers 503 (the live stream
    /// excepted).
    #[arg(long, env = "REQUEST_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub request_timeout: u64,

    /// The Argo Workflows UI (https://argo.example.com): runs posted to the
    /// Argo Workflows adapter link to <URL>/workflows/<namespace>/<name>.
    #[arg(long, env = "ARGO_WORKFLOWS_URL", value_parser = web_url, global = true)]
    pub argo_workflows_url: Option<String>,

    /// The Argo CD UI (https://argocd.example.com): applications posted to
    /// the Argo CD adapter link to <URL>/applications/<namespace>/<name>.
    #[arg(long, env = "ARGO_CD_URL", value_parser = web_url, global = true)]
    pub argo_cd_url: Option<String>,

    /// The secret of the GitHub webhook: deliveries with a valid
    /// X-Hub-Signature-256 need no token, and an invalid signature is refused.
    #[arg(
        long,
        env = "GITHUB_WEBHOOK_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub github_webhook_secret: Option<String>,

    /// Log format. The level is set with RUST_LOG (default "info").
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web application and the API.
    Serve,
    /// Serve with demo data and a live simulator, in its own database
    /// (sqlite://data/demo.db unless --database-url is given).
    Demo {
        /// Seed of the demo data: the same seed gives the same history.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// How much faster than real time the simulator runs.
        #[arg(long, default_value_t = 1.0, value_parser = parse_speed)]
        speed: f64,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Manage products' settings.
    Product {
        #[command(subcommand)]
        command: ProductCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProductCommand {
    /// Set a product's promotion flow from a JSON file (the shape of
    /// release.created's `flow`); a release.created without a `flow` then
    /// uses it. Creates the product when it is new.
    SetFlow {
        /// The product's slug.
        product: String,
        /// The flow as JSON: {"name", "trigger", "environments": [...]}; `-` reads stdin.
        file: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (alone, on stdout). Only its hash is stored.
    Create {
        /// What the token may do: viewer (read), operator (read and restart), ingest (post events).
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// A name to recognise the token by.
        #[arg(long, default_value = "unnamed")]
        name: String,
    },
    /// List the tokens: id, role, name and creation time (never the token).
    List,
    /// Delete a token by id (see `token list`); it stops working at once, and
    /// the browsers signed in with it are signed out.
    Delete {
        /// The token's id.
        id: i64,
    },
}

fn web_url(value: &str) -> Result<String, String> {
    if domain::is_web_url(value) {
        Ok(value.trim_end_matches('/').to_owned())
    } else {
        Err(format!(
            "invalid URL {value:?}: expected an absolute http:// or https:// URL"
        ))
    }
}

fn parse_speed(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(speed) if speed.is_finite() && (0.01..=1000.0).contains(&speed) => Ok(speed),
        _ => Err(format!(
            "invalid speed {value:?}: expected a number from 0.01 to 1000"
        )),
    }
}

fn parse_role(value: &str) -> Result<Role, String> {
    Role::parse(value)
        .ok_or_else(|| format!("unknown role {value:?}: expected viewer, operator or ingest"))
}

/// Runs the parsed command; errors are printed to stderr with a non-zero exit.
pub async fn run(cli: Cli) -> ExitCode {
    init_tracing(cli.log_format);
    match execute(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(cli: Cli) -> Result<(), String> {
    let default_url = match cli.command {
        Command::Demo { .. } => DEFAULT_DEMO_DATABASE_URL,
        _ => DEFAULT_DATABASE_URL,
    };
    let database_url = cli
        .database_url
        .clone()
        .unwrap_or_else(|| default_url.to_string());
    let db = Db::connect(&database_url)
        .await
        .map_err(|e| e.to_string())?;
    db.migrate().await.map_err(|e| e.to_string())?;

    match cli.command {
        Command::Migrate => {
            tracing::info!(database = %db::redact(&database_url), "database is up to date");
            Ok(())
        }
        Command::Token {
            command: TokenCommand::Create { role, name },
        } => {
            let token = auth::create_token(&db, role, &name)
                .await
                .map_err(|e| format!("cannot store the token: {e}"))?;
            println!("{token}");
            Ok(())
        }
        Command::Token {
            command: TokenCommand::List,
        } => {
            let tokens = auth::list_tokens(&db)
                .await
                .map_err(|e| format!("cannot list the tokens: {e}"))?;
            println!("{:>6}  {:<8}  {:<24}  name", "id", "role", "created");
            for token in tokens {
                let created = chrono::DateTime::from_timestamp_millis(token.created_at)
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                    .unwrap_or_default();
                println!(
                    "{:>6}  {:<8}  {:<24}  {}",
                    token.id, token.role, created, token.name
                );
            }
            Ok(())
        }
        Command::Token {
            command: TokenCommand::Delete { id },
        } => {
            let deleted = auth::delete_token(&db, id)
                .await
                .map_err(|e| format!("cannot delete the token: {e}"))?;
            if deleted {
                println!("deleted token {id}");
                Ok(())
            } else {
                Err(format!("no token has id {id} (see `server token list`)"))
            }
        }
        Command::Product {
            command: ProductCommand::SetFlow { product, file },
        } => {
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())
            } else {
                std::fs::read_to_string(&file)
            }
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let value: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| format!("{} is not valid JSON: {e}", file.display()))?;
            let problem = |e: domain::AppError| match e {
                domain::AppError::Invalid {
                    field: Some(field),
                    message,
                } => format!("{}: {field}: {message}", file.display()),
                other => format!("cannot set the flow: {other}"),
            };
            backend::ingest::check_product_slug(&product, "PRODUCT").map_err(problem)?;
            let flow = backend::ingest::parse_flow(&value, String::new()).map_err(problem)?;
            let settings = backend::Settings {
                anonymous_read: false,
                streams: backend::StreamLimits::default(),
            };
            let core = backend::Core::new(db, settings);
            backend::settings::set_flow(&core, &product, &flow)
                .await
                .map_err(problem)?;
            println!(
                "product {product}: flow {:?} with {} environments",
                flow.name(),
                flow.environments().len()
            );
            Ok(())
        }
        Command::Serve | Command::Demo { .. } => {
            let demo = match cli.command {
                Command::Demo { seed, speed } => Some(crate::demo::DemoOptions { seed, speed }),
                _ => None,
            };
            let shutdown = shutdown_signal();
            let listener = TcpListener::bind(cli.listen)
                .await
                .map_err(|e| format!("cannot listen on {}: {e}", cli.listen))?;
            let address = listener
                .local_addr()
                .map_err(|e| format!("cannot listen on {}: {e}", cli.listen))?;
            let loopback = address.ip().is_loopback();
            let anonymous_read = cli.anonymous_read.unwrap_or(loopback);
            // Anonymous read by default on loopback answers loopback names only.
            let loopback_hosts_only = cli.anonymous_read.is_none() && loopback;
            tracing::info!(
                address = %format!("http://{address}"),
                database = %db::redact(&database_url),
                anonymous_read,
                "serving"
            );
            if demo.is_some() {
                // A token to try the API with: operator, so it can read and
                // restart, but not post events behind the simulator's back.
                let token = auth::create_token(&db, Role::Operator, "demo")
                    .await
                    .map_err(|e| format!("cannot store the demo token: {e}"))?;
                println!(
                    "\nReleases demo: open http://{address}\n\
                     Try the API:   curl -H 'Authorization: Bearer {token}' http://{address}/api/v1/products\n"
                );
            }
            crate::launch(
                Launch {
                    db,
                    anonymous_read,
                    loopback_hosts_only,
                    streams: backend::StreamLimits {
                        total: cli.max_streams,
                        per_client: cli.max_streams_per_client,
                    },
                    request_timeout: std::time::Duration::from_secs(cli.request_timeout),
                    demo,
                    adapters: backend::adapters::AdapterSettings {
                        argo_workflows_url: cli.argo_workflows_url,
                        argo_cd_url: cli.argo_cd_url,
                        github_webhook_secret: cli
                            .github_webhook_secret
                            .filter(|secret| !secret.is_empty()),
                    },
                },
                listener,
                shutdown,
            )
            .await
            .map_err(|e| format!("server failed: {e}"))
        }
    }
}

fn init_tracing(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
