//! Every rule of RFC 5546 and of docs/DESIGN.md, and nothing else: which copies make one message
//! (`copies`), every stateless refusal (`check`), who the sender is and who may speak for an
//! organizer (`sender`), who is answered (`answer`), and what a checked message does given the
//! ledger (`rules`).

pub mod answer;
pub mod check;
pub mod copies;
pub mod rules;
pub mod sender;
