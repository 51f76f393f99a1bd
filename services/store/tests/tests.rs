//! Integration tests of the store against a real Postgres (see `switchyard_store::testing`).

mod asof;
mod embedded;
mod fees;
mod gossip;
mod history;
mod import;
mod replica;
mod series;
