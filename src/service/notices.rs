//! What the sender is told: a refusal's `rejected` message when the core says they may be
//! answered, and with `NOTIFY_ON_SUCCESS` a confirmation. Each returns the one [`Told`] value
//! and what it published.

use super::{Published, Service, ServiceError, encode};
use crate::core::analysis::Analysis;
use crate::core::itip::answer::{NoReply, Told, may_answer, may_write_to};
use crate::core::itip::check::CheckedMessage;
use crate::core::message::{
    confirmation_attributes, confirmation_message, rejected_attributes, rejected_message,
    source_info,
};
use crate::core::model::{Reason, Route, Topic};
use crate::ports::{Ledger, MailSource, MailStore, Publisher};

/// What telling the sender did.
#[derive(Debug, Default)]
pub(super) struct Notice {
    pub told: Told,
    pub published: Option<Published>,
}

impl Notice {
    /// A notice published on the `rejected` topic for the notifier.
    fn sent(dedupe_id: String) -> Notice {
        Notice {
            told: Told::Yes,
            published: Some(Published {
                topic: Topic::Rejected,
                dedupe_id,
            }),
        }
    }
}

impl<M: MailStore, L: Ledger, P: Publisher> Service<M, L, P> {
    /// Tells the sender why, when the core says they may be answered (`itip::answer`).
    pub(super) async fn tell_refusal(
        &self,
        analysis: &Analysis,
        reason: Reason,
        source: &MailSource,
    ) -> Result<Notice, ServiceError> {
        let sender = analysis.envelope.sender.as_deref();
        // Never backscatter, never a loop: the core says who may be answered, and why not.
        let answer = may_answer(reason, sender, &analysis.reply, &self.policy);
        let (Ok(()), Some(sender)) = (answer, sender) else {
            let why = answer.err().unwrap_or(NoReply::NoSender);
            return Ok(Notice {
                told: Told::No(why),
                published: None,
            });
        };
        let message = rejected_message(
            sender,
            reason,
            &analysis.envelope,
            source_info(&analysis.envelope, source.bucket.as_deref(), &source.key),
        );
        let body = encode(&message)?;
        let attributes = rejected_attributes(reason, analysis.method());
        self.publisher
            .publish(Topic::Rejected, &body, &attributes)
            .await?;
        Ok(Notice::sent(message.dedupe_id))
    }

    /// With `NOTIFY_ON_SUCCESS`: tells the sender their invitation was acted on (`route`), when
    /// the core says they may be written to at all. The notice's dedupe id is the email's and the
    /// route's, so a retry (or the recovery of this very email) confirms once.
    pub(super) async fn confirm(
        &self,
        analysis: &Analysis,
        checked: &CheckedMessage,
        route: Route,
        source: &MailSource,
    ) -> Result<Notice, ServiceError> {
        let nothing = Notice::default();
        if !self.confirm_success || route.topic().is_none() {
            return Ok(nothing);
        }
        let sender = analysis.envelope.sender.as_deref();
        let (Ok(()), Some(sender)) = (may_write_to(sender, &analysis.reply, &self.policy), sender)
        else {
            return Ok(nothing);
        };
        let Some(event) = checked
            .events()
            .iter()
            .find(|event| event.recurrence_id.is_none())
            .or_else(|| checked.events().first())
        else {
            return Ok(nothing);
        };
        let message = confirmation_message(
            sender,
            route,
            event,
            &analysis.envelope,
            source_info(&analysis.envelope, source.bucket.as_deref(), &source.key),
        );
        let body = encode(&message)?;
        self.publisher
            .publish(Topic::Rejected, &body, &confirmation_attributes(route))
            .await?;
        Ok(Notice::sent(message.dedupe_id))
    }
}
