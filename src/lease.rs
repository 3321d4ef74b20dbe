//! A lease lock in `<metadataDatabase>.locks`, so that two mongoctl runs never change one
//! cluster at the same time (two `apply`s racing on the same users, two `migrate up`s
//! running one step twice).
//!
//! Expiry is judged by the *server's* clock (`$$NOW`), never the clients', so skewed hosts
//! agree on who holds it. The holder renews it while it runs; a holder that dies leaves a
//! lease that simply expires. Taking it is one upsert whose filter matches only an expired
//! lease (against the server's `hello.localTime`), so while another run holds it the upsert
//! collides on `_id` (E11000) instead.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bson::{DateTime, Document, doc, oid::ObjectId};
use mongodb::Client;

/// The collection of `<metadataDatabase>` holding one document per lease.
pub const COLLECTION: &str = "locks";
/// The lease every command that changes a cluster's structure, users or data takes.
pub const CLUSTER_CHANGES: &str = "cluster-changes";
/// How long a lease lives without renewal: long enough for a stalled connection, short
/// enough that a crashed run blocks the next one for at most this long.
pub const TTL: Duration = Duration::from_secs(60);

/// Who holds a lease, as recorded in it.
#[derive(Debug, Clone)]
pub struct Holder {
    pub command: String,
    pub host: String,
    pub pid: i64,
    pub acquired_at: DateTime,
    pub expires_at: DateTime,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` (host {}, pid {}) since {}, lease expires {} unless renewed",
            self.command,
            if self.host.is_empty() {
                "?"
            } else {
                &self.host
            },
            self.pid,
            self.acquired_at.try_to_rfc3339_string().unwrap_or_default(),
            self.expires_at.try_to_rfc3339_string().unwrap_or_default()
        )
    }
}

/// A held lease; renewed in the background until [`Lease::release`].
pub struct Lease {
    client: Client,
    db: String,
    name: String,
    owner: ObjectId,
    lost: Arc<AtomicBool>,
    renewer: tokio::task::JoinHandle<()>,
}

/// Takes lease `name` in `db`, waiting up to `wait` for another holder to finish; fails
/// naming the holder when it does not.
pub async fn acquire(
    client: &Client,
    db: &str,
    name: &str,
    command: &str,
    wait: Duration,
) -> Result<Lease> {
    acquire_with_ttl(client, db, name, command, wait, TTL).await
}

pub async fn acquire_with_ttl(
    client: &Client,
    db: &str,
    name: &str,
    command: &str,
    wait: Duration,
    ttl: Duration,
) -> Result<Lease> {
    let owner = ObjectId::new();
    let deadline = Instant::now() + wait;
    loop {
        match try_take(client, db, name, command, owner, ttl).await? {
            None => break,
            Some(holder) if Instant::now() >= deadline => bail!(
                "another mongoctl run is changing this cluster: {holder}; nothing was changed (wait with --lock-wait, or retry when it ends; the lease is {db}.{COLLECTION} {{_id: \"{name}\"}})"
            ),
            Some(_) => {
                let left = deadline.saturating_duration_since(Instant::now());
                tokio::time::sleep(left.min(Duration::from_millis(500))).await;
            }
        }
    }
    let lost = Arc::new(AtomicBool::new(false));
    let renewer = tokio::spawn(renew(
        client.clone(),
        db.to_string(),
        name.to_string(),
        owner,
        ttl,
        lost.clone(),
    ));
    Ok(Lease {
        client: client.clone(),
        db: db.to_string(),
        name: name.to_string(),
        owner,
        lost,
        renewer,
    })
}

/// One attempt: `None` when taken, the holder when someone else has it.
async fn try_take(
    client: &Client,
    db: &str,
    name: &str,
    command: &str,
    owner: ObjectId,
    ttl: Duration,
) -> Result<Option<Holder>> {
    let locks = client.database(db).collection::<Document>(COLLECTION);
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    let take = vec![doc! {"$set": {
        "owner": owner,
        "command": command,
        "host": host,
        "pid": std::process::id() as i64,
        "acquired_at": "$$NOW",
        "expires_at": {"$add": ["$$NOW", ttl.as_millis() as i64]},
    }}];
    // An upsert's filter cannot use `$expr`/`$$NOW`, so "expired" is judged against the
    // server's clock as `hello` reports it, read just before.
    let hello = client
        .database("admin")
        .run_command(doc! {"hello": 1})
        .await
        .with_context(|| format!("reading the server's clock for the lease {db}.{COLLECTION}"))?;
    let server_now = hello
        .get_datetime("localTime")
        .copied()
        .context("the server's hello reply has no localTime")?;
    let expired = doc! {"_id": name, "expires_at": {"$lte": server_now}};
    match locks.update_one(expired, take).upsert(true).await {
        Ok(_) => Ok(None),
        Err(e) if is_duplicate_key(&e) => {
            let doc = locks
                .find_one(doc! {"_id": name})
                .await
                .with_context(|| format!("reading the lease {db}.{COLLECTION} {name}"))?;
            // Released between the two commands: try again at once.
            Ok(Some(doc.map(|d| holder_of(&d)).unwrap_or(Holder {
                command: "(released)".into(),
                host: String::new(),
                pid: 0,
                acquired_at: DateTime::now(),
                expires_at: DateTime::now(),
            })))
        }
        Err(e) => Err(anyhow::Error::new(e))
            .with_context(|| format!("taking the lease {db}.{COLLECTION} {name}")),
    }
}

fn holder_of(d: &Document) -> Holder {
    Holder {
        command: d.get_str("command").unwrap_or("?").to_string(),
        host: d.get_str("host").unwrap_or("").to_string(),
        pid: d
            .get_i64("pid")
            .or_else(|_| d.get_i32("pid").map(i64::from))
            .unwrap_or(0),
        acquired_at: d
            .get_datetime("acquired_at")
            .copied()
            .unwrap_or(DateTime::MIN),
        expires_at: d
            .get_datetime("expires_at")
            .copied()
            .unwrap_or(DateTime::MIN),
    }
}

fn is_duplicate_key(e: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    match e.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == 11000,
        ErrorKind::Command(c) => c.code == 11000,
        _ => false,
    }
}

/// Pushes the expiry out every third of the TTL; marks the lease lost when it was taken
/// over (it had expired: this process stalled longer than the TTL).
async fn renew(
    client: Client,
    db: String,
    name: String,
    owner: ObjectId,
    ttl: Duration,
    lost: Arc<AtomicBool>,
) {
    let locks = client.database(&db).collection::<Document>(COLLECTION);
    loop {
        tokio::time::sleep(ttl / 3).await;
        let extend =
            vec![doc! {"$set": {"expires_at": {"$add": ["$$NOW", ttl.as_millis() as i64]}}}];
        match locks
            .update_one(doc! {"_id": &name, "owner": owner}, extend)
            .await
        {
            Ok(r) if r.matched_count == 0 => {
                lost.store(true, Ordering::SeqCst);
                return;
            }
            // A failed renewal is retried on the next tick; the lease has two more ticks.
            _ => {}
        }
    }
}

impl Lease {
    /// Whether another run took the lease over while this one held it.
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Fails when the lease is no longer this run's: checked before every batch a migration
    /// commits, inside the batch's transaction when there is one (so a run that stalled past
    /// the TTL and lost the lease never commits another batch).
    pub async fn ensure_held(&self, session: Option<&mut mongodb::ClientSession>) -> Result<()> {
        if self.lost() {
            bail!("{}", self.lost_message());
        }
        let locks = self
            .client
            .database(&self.db)
            .collection::<Document>(COLLECTION);
        let find = locks.find_one(doc! {"_id": &self.name, "owner": self.owner});
        let found = match session {
            Some(s) => find.session(s).await,
            None => find.await,
        }
        .with_context(|| format!("checking the lease {}.{COLLECTION}", self.db))?;
        if found.is_none() {
            self.lost.store(true, Ordering::SeqCst);
            bail!("{}", self.lost_message());
        }
        Ok(())
    }

    fn lost_message(&self) -> String {
        format!(
            "the lease {}.{COLLECTION} {} expired while this run held it (stalled longer than {} s) and another run may hold it now; stopped before writing more",
            self.db,
            self.name,
            TTL.as_secs()
        )
    }

    /// Gives the lease back; an error means it will simply expire.
    pub async fn release(self) -> Result<()> {
        self.renewer.abort();
        self.client
            .database(&self.db)
            .collection::<Document>(COLLECTION)
            .delete_one(doc! {"_id": &self.name, "owner": self.owner})
            .await
            .with_context(|| format!("releasing the lease {}.{COLLECTION}", self.db))?;
        if self.lost() {
            bail!(
                "the lease {}.{COLLECTION} {} expired while this run held it (stalled longer than {} s): another run may have changed the cluster meanwhile; run plan",
                self.db,
                self.name,
                TTL.as_secs()
            );
        }
        Ok(())
    }
}
