//! Before the first write, the server is asked to accept every collection's metadata on a
//! temporary collection (`staging`); with `--drop` that collection receives the data and is
//! swapped in for its target only once every namespace is complete.

use anyhow::{Result, anyhow};
use mongodb::Client;

use crate::backup::staging::{self};

use super::journal::Journal;
use super::{RestoreOptions, RestoreReport, Unit};

/// Asks the server, before any data is written, to accept every unit's options, validator,
/// indexes or view pipeline, on a temporary collection next to its target. With `--drop`, a
/// collection that can be renamed keeps that temporary collection as the place its data goes
/// (`Unit::stage`); others (time series, system collections) are marked to be dropped just
/// before their data. If the server refuses anything, every temporary collection is dropped
/// and the error names the metadata that was refused.
pub(super) async fn stage(
    client: &Client,
    units: &mut [Unit],
    opts: &RestoreOptions,
) -> Result<()> {
    let mut failed = None;
    for u in units.iter_mut() {
        // System collections (`system.js`…): the server cannot create them under another
        // name, nor drop them; like mongorestore, --drop leaves them and inserts into them.
        if !staging::checkable(&u.target) {
            if opts.drop && !u.meta.is_view() {
                u.note = Some(
                    "a system collection: not dropped (--drop); the backup's documents are \
                     inserted into it"
                        .into(),
                );
            }
            continue;
        }
        let keep = opts.drop && staging::swappable(&u.target, &u.meta);
        match staging::check(client, &u.target, &u.meta, keep).await {
            Ok(temp) => u.stage = temp,
            Err(e) => {
                failed = Some(anyhow!(
                    "{}: the server refuses the {} of {}: {e:#}",
                    u.origin,
                    if u.meta.is_view() {
                        "view definition"
                    } else {
                        "options, validator or indexes"
                    },
                    u.target
                ));
                break;
            }
        }
        u.drop_first = opts.drop && !u.meta.is_view() && u.stage.is_none();
    }
    if let Some(e) = failed {
        for temp in units.iter_mut().filter_map(|u| u.stage.take()) {
            staging::drop_collection(client, &temp).await.ok();
        }
        return Err(e.context("nothing was restored"));
    }
    Ok(())
}

/// `--drop`: once every namespace is restored, swaps each temporary collection in for its
/// target; if any namespace failed, none is swapped and the temporary collections are
/// dropped (the targets stay as they were). Each report says whether its target was
/// replaced.
pub(super) async fn swap_in_staged(client: &Client, report: &mut RestoreReport, journal: &Journal) {
    let failed: Vec<String> = report
        .namespaces
        .iter()
        .filter(|n| n.status != "ok")
        .map(|n| n.target.clone())
        .collect();
    let mut hold: Option<String> =
        (!failed.is_empty()).then(|| format!("{} failed", failed.join(", ")));
    for n in report.namespaces.iter_mut() {
        let Some(temp) = n.stage.take() else {
            continue;
        };
        if hold.is_none() {
            match staging::swap_in(client, &temp, &n.target).await {
                Ok(()) => {
                    n.swapped_in = Some(true);
                    journal.clear(&temp).await.ok();
                    let done = n.inserted + n.duplicates + n.resumed;
                    journal.set(&n.target, done, true).await.ok();
                    continue;
                }
                Err(e) => {
                    n.status = format!("FAILED: swapping in the restored copy: {e:#}");
                    hold = Some(format!("swapping in {} failed", n.target));
                }
            }
        }
        n.swapped_in = Some(false);
        let why = hold.as_deref().unwrap_or_default();
        n.status = if n.status == "ok" {
            format!("NOT SWAPPED IN ({why}): {} is as it was", n.target)
        } else {
            format!("{}; not swapped in: {} is as it was", n.status, n.target)
        };
        if let Err(e) = staging::drop_collection(client, &temp).await {
            n.status += &format!("; the temporary {temp} is left (dropping it failed: {e:#})");
        }
        journal.clear(&temp).await.ok();
    }
}
