//! The embedded backend: emails from files, the ledger in SQLite, published messages appended to
//! JSONL files, replies written as files. The same service and core as the Lambda, with no server and no AWS account; this
//! is what `invite-router process --state DIR` and `make demo` run on.

mod files;
mod jsonl;
mod replies;
mod sqlite;
mod state_lock;

pub use files::{LocalMailStore, key_of, path_of, read_bounded};
pub use jsonl::JsonlPublisher;
pub use replies::{AnsweringPublisher, FileMailer, SqliteReplyLog};
pub use sqlite::SqliteLedger;
pub use state_lock::{LOCK_FILE, StateLock};
