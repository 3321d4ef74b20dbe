//! `health`: can we reach the cluster, what is it, how fast does it answer, who are we
//! (gathered by `crate::health`, printed by `render::health`).

use anyhow::Result;

use crate::context::Ctx;
use crate::exit::{ERROR, Reported, SUCCESS};
use crate::health::{self, Probe};
use crate::render;

pub async fn run(ctx: &Ctx) -> Result<u8> {
    let ws = crate::spec::load(&ctx.global.spec).workspace;
    let (client, choice) = ctx.connect(ws.as_ref()).await?;
    match health::probe(&client, &choice.shown).await? {
        Probe::Unreachable { error } => {
            render::health::unreachable(&choice.shown, &error, ctx.json());
            Err(Reported(ERROR).into())
        }
        Probe::Reachable(h) => {
            if ctx.json() {
                render::health::json(&h);
            } else {
                render::health::table(&h);
            }
            Ok(SUCCESS)
        }
    }
}
