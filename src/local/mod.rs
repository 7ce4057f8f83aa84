//! The embedded backend: emails from files, the ledger in SQLite, published messages appended to
//! JSONL files. The same service and core as the Lambda, with no server and no AWS account; this
//! is what `invite-router process --state DIR` and `make demo` run on.

mod files;
mod jsonl;
mod sqlite;

pub use files::LocalMailStore;
pub use jsonl::JsonlPublisher;
pub use sqlite::SqliteLedger;
