//! Resolves command-line values, environment variables and the manifest once, at the edge,
//! into the settings commands use: the workspace, the environment, database names, the URI.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use mongodb::{Client, options::ClientOptions};

use crate::error::SpecRejected;
use crate::flags::{GlobalArgs, OutputFormat};
use crate::model::ClusterState;
use crate::redact::redact_uri;
use crate::spec::{self, Diagnostic, Environment, ResolvedDatabase, Workspace};

pub struct Ctx {
    pub global: GlobalArgs,
    /// The connection, kept so that `close` can shut it down before the runtime stops
    /// (the driver's drop handler needs a running runtime).
    client: std::sync::Mutex<Option<Client>>,
}

/// The connection string and where it came from (for messages; already redacted).
pub struct UriChoice {
    pub uri: String,
    pub source: String,
    pub shown: String,
}

impl Ctx {
    pub fn new(global: GlobalArgs) -> Self {
        Ctx {
            global,
            client: std::sync::Mutex::new(None),
        }
    }

    /// A context that uses `client` instead of connecting (tests drive commands in-process
    /// with an instrumented client this way).
    pub fn with_client(global: GlobalArgs, client: Client) -> Self {
        Ctx {
            global,
            client: std::sync::Mutex::new(Some(client)),
        }
    }

    /// Ends server sessions and closes connections.
    pub async fn close(&self) {
        let client = self.client.lock().ok().and_then(|mut c| c.take());
        if let Some(c) = client {
            c.shutdown().await;
        }
    }

    pub fn json(&self) -> bool {
        self.global.output == OutputFormat::Json
    }

    /// Progress bars only for people: a terminal on stderr, not JSON, not quiet.
    pub fn show_progress(&self) -> bool {
        !self.global.no_progress
            && !self.global.quiet
            && !self.json()
            && std::io::stderr().is_terminal()
            && std::io::stdout().is_terminal()
    }

    /// Loads the workspace and its warnings; any error diagnostic fails with
    /// [`SpecRejected`] (all of them) before anything touches a cluster.
    pub fn load_workspace(&self) -> Result<(Workspace, Vec<Diagnostic>)> {
        let loaded = spec::load(&self.global.spec);
        match loaded.workspace {
            Some(ws) if loaded.diagnostics.iter().all(|d| !d.is_error()) => {
                Ok((ws, loaded.diagnostics))
            }
            _ => Err(SpecRejected {
                spec: self.global.spec.clone(),
                diagnostics: loaded.diagnostics,
            }
            .into()),
        }
    }

    /// The selected environment: `--env`/`MONGOCTL_ENV`, else the manifest's default.
    pub fn environment<'w>(&self, ws: &'w Workspace) -> Result<Option<(String, &'w Environment)>> {
        let name = self
            .global
            .environment
            .clone()
            .or_else(|| ws.manifest.default_environment.clone());
        let Some(name) = name else { return Ok(None) };
        match ws.manifest.environments.get(&name) {
            Some(env) => Ok(Some((name, env))),
            None => {
                let known: Vec<&str> = ws
                    .manifest
                    .environments
                    .keys()
                    .map(String::as_str)
                    .collect();
                bail!(
                    "environment \"{name}\" is not declared in {} (declared: {})",
                    spec::MANIFEST_FILE,
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                )
            }
        }
    }

    pub fn databases(&self, ws: &Workspace) -> Result<Vec<ResolvedDatabase>> {
        let env = self.environment(ws)?;
        let resolved = spec::resolve_databases(&ws.manifest, env.map(|(_, e)| e), &|k| {
            std::env::var(k).ok()
        });
        for r in &resolved {
            if let Some(problem) = spec::manifest::database_name_problem(&r.name) {
                bail!(
                    "domain {}: database name from {}: {problem}",
                    r.domain,
                    r.source
                );
            }
        }
        Ok(resolved)
    }

    /// Checks `--domain` values against the manifest.
    pub fn domains(&self, ws: &Workspace, requested: &[String]) -> Result<Vec<String>> {
        for d in requested {
            if ws.manifest.domain(d).is_none() {
                let hint = spec::fields::did_you_mean(
                    d,
                    ws.manifest.domains.iter().map(|x| x.name.as_str()),
                )
                .map(|s| format!("; did you mean \"{s}\"?"))
                .unwrap_or_default();
                bail!(
                    "--domain {d}: no such domain in {}{hint}",
                    spec::MANIFEST_FILE
                );
            }
        }
        Ok(requested.to_vec())
    }

    /// The database names of the given domains (checked against the manifest).
    pub fn domain_databases(&self, ws: &Workspace, domains: &[String]) -> Result<Vec<String>> {
        let domains = self.domains(ws, domains)?;
        Ok(self
            .databases(ws)?
            .into_iter()
            .filter(|r| domains.contains(&r.domain))
            .map(|r| r.name)
            .collect())
    }

    /// Domain → resolved database name (template domains: `chat_{tenant}`).
    pub fn database_names(&self, ws: &Workspace) -> Result<BTreeMap<String, String>> {
        Ok(self
            .databases(ws)?
            .into_iter()
            .map(|r| (r.domain, r.name))
            .collect())
    }

    pub fn desired(&self, ws: &Workspace, domains: &[String]) -> Result<ClusterState> {
        let names = self.database_names(ws)?;
        let desired = ws.desired_state(&names, domains);
        // `check` proved this for the names the manifest declares; a name from the
        // environment at run time (`DB_NAME_<DOMAIN>`) is only known here. Views share
        // the collections' limit.
        for db in &desired.databases {
            let names = db.collections.iter().map(|c| c.name.as_str());
            let views = db
                .views
                .iter()
                .filter(|v| !v.absent)
                .map(|v| v.name.as_str());
            if let Some(name) = names
                .chain(views)
                .find(|n| db.name.len() + 1 + n.len() > spec::manifest::MAX_NAMESPACE_BYTES)
            {
                bail!(
                    "domain {}: namespace \"{}.{}\" is {} bytes; MongoDB allows at most {} for database.collection",
                    db.domain,
                    db.name,
                    name,
                    db.name.len() + 1 + name.len(),
                    spec::manifest::MAX_NAMESPACE_BYTES
                );
            }
        }
        Ok(desired)
    }

    /// `--uri`, then `MONGODB_URI`, then the environment's `uriEnv` variable.
    pub fn uri(&self, ws: Option<&Workspace>) -> Result<UriChoice> {
        let env = match ws {
            Some(ws) => self.environment(ws)?,
            None => None,
        };
        let env_var = env.as_ref().and_then(|(_, e)| e.uri_env.clone());
        let (uri, source) = if let Some(u) = &self.global.uri {
            (u.clone(), "--uri".to_string())
        } else if let Some(u) = std::env::var("MONGODB_URI").ok().filter(|u| !u.is_empty()) {
            (u, "MONGODB_URI".to_string())
        } else if let Some(var) = &env_var
            && let Some(u) = std::env::var(var).ok().filter(|u| !u.is_empty())
        {
            (u, var.clone())
        } else {
            let via_env = match (&env, &env_var) {
                (Some((name, _)), Some(var)) => {
                    format!(", or {var} (uriEnv of environment \"{name}\")")
                }
                _ => String::new(),
            };
            bail!("no connection string: pass --uri or set MONGODB_URI{via_env}");
        };
        let shown = redact_uri(&uri);
        Ok(UriChoice { uri, source, shown })
    }

    pub async fn connect(&self, ws: Option<&Workspace>) -> Result<(Client, UriChoice)> {
        if let Some(client) = self.client.lock().ok().and_then(|c| c.clone()) {
            let shown = "(provided client)".to_string();
            return Ok((
                client,
                UriChoice {
                    uri: String::new(),
                    source: shown.clone(),
                    shown,
                },
            ));
        }
        let choice = self.uri(ws)?;
        let password = match &self.global.username {
            Some(user) => Some(ask_password(user).await?),
            None => None,
        };
        let client = connect_with(
            &choice.uri,
            self.global.username.as_deref().zip(password.as_deref()),
        )
        .await
        .with_context(|| format!("connecting to {} (from {})", choice.shown, choice.source))?;
        // The driver connects lazily; one ping makes an unreachable server or refused
        // credentials an error here, not a per-section warning of a report that exits 0.
        client
            .database("admin")
            .run_command(bson::doc! {"ping": 1})
            .await
            .with_context(|| format!("connecting to {} (from {})", choice.shown, choice.source))?;
        if let Ok(mut slot) = self.client.lock() {
            *slot = Some(client.clone());
        }
        Ok((client, choice))
    }
}

/// The password for `--username`: `MONGOCTL_PASSWORD`, else a hidden prompt on a terminal.
async fn ask_password(user: &str) -> Result<String> {
    if let Ok(p) = std::env::var("MONGOCTL_PASSWORD") {
        crate::redact::register(&p);
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        bail!(
            "--username {user}: set MONGOCTL_PASSWORD (there is no terminal to ask for the password on)"
        );
    }
    let prompt = format!("Password for {user}");
    let p = tokio::task::spawn_blocking(move || {
        dialoguer::Password::new().with_prompt(prompt).interact()
    })
    .await??;
    crate::redact::register(&p);
    Ok(p)
}

/// A client with mongoctl's defaults (5 s server selection unless the URI says otherwise),
/// explicit credentials (`--username`) overriding the URI's.
pub async fn connect_with(uri: &str, credentials: Option<(&str, &str)>) -> Result<Client> {
    let mut opts = match ClientOptions::parse(uri).await {
        Ok(opts) => opts,
        // The parser's message may quote a fragment of a password it could not split off.
        Err(_) if crate::redact::userinfo_is_malformed(uri) => bail!(
            "invalid connection string: the user name or password holds a character that must be percent-encoded (`/` `?` `#` `@` `:` `[` `]` or a space; `/` is %2F, `@` is %40)"
        ),
        Err(e) => return Err(e).context("invalid connection string"),
    };
    if let Some((user, password)) = credentials {
        let source = opts
            .credential
            .as_ref()
            .and_then(|c| c.source.clone())
            .unwrap_or_else(|| "admin".into());
        opts.credential = Some(
            mongodb::options::Credential::builder()
                .username(user.to_string())
                .password(password.to_string())
                .source(source)
                .build(),
        );
    }
    if opts.server_selection_timeout.is_none() {
        opts.server_selection_timeout = Some(Duration::from_secs(5));
    }
    if opts.app_name.is_none() {
        opts.app_name = Some(format!("mongoctl {}", env!("CARGO_PKG_VERSION")));
    }
    Ok(Client::with_options(opts)?)
}

/// A command-line flag's (Extended) JSON object, e.g. `--filter '{"a": {"$gt": 1}}'`.
pub fn parse_json_flag(flag: &str, text: &str) -> Result<bson::Document> {
    let json: serde_json::Value =
        serde_json::from_str(text).with_context(|| format!("--{flag}: not valid JSON: {text}"))?;
    match bson::Bson::try_from(json) {
        Ok(bson::Bson::Document(d)) => Ok(d),
        Ok(_) => bail!("--{flag}: expected a JSON object, got {text}"),
        Err(e) => bail!("--{flag}: invalid Extended JSON: {e}"),
    }
}
