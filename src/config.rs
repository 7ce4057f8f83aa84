//! The Lambda's configuration: read once from the environment at start. Every missing or
//! malformed variable is reported at once, by name, so a bad deployment is fixed in one go.

use std::fmt;

use crate::core::model::Topic;
use crate::core::policy::{Delegation, parse_delegates};
use crate::core::{Limits, SenderPolicy};

/// Names of the environment variables, as documented in docs/PIPELINE.md.
pub const CREATE_TOPIC_ARN: &str = "CREATE_TOPIC_ARN";
pub const UPDATE_TOPIC_ARN: &str = "UPDATE_TOPIC_ARN";
pub const CANCEL_TOPIC_ARN: &str = "CANCEL_TOPIC_ARN";
pub const REJECTED_TOPIC_ARN: &str = "REJECTED_TOPIC_ARN";
pub const LEDGER_TABLE: &str = "LEDGER_TABLE";
pub const QUEUE_URL: &str = "QUEUE_URL";
pub const MAX_EMAIL_BYTES: &str = "MAX_EMAIL_BYTES";
pub const MAX_CALENDAR_BYTES: &str = "MAX_CALENDAR_BYTES";
pub const MAX_COMPONENTS: &str = "MAX_COMPONENTS";
pub const MAX_ATTENDEES: &str = "MAX_ATTENDEES";
pub const REQUIRE_AUTHENTICATION: &str = "REQUIRE_AUTHENTICATION";
pub const TRUSTED_AUTHSERV_ID: &str = "TRUSTED_AUTHSERV_ID";
pub const BATCH_CONCURRENCY: &str = "BATCH_CONCURRENCY";
pub const DELEGATION: &str = "DELEGATION";
pub const DELEGATES: &str = "DELEGATES";
pub const DROPBOX_ADDRESSES: &str = "DROPBOX_ADDRESSES";
pub const REPLY_FROM: &str = "REPLY_FROM";
pub const REPLY_RATE_LIMIT: &str = "REPLY_RATE_LIMIT";
pub const NOTIFY_ON_SUCCESS: &str = "NOTIFY_ON_SUCCESS";
pub const METRICS_NAMESPACE: &str = "METRICS_NAMESPACE";
pub const STAGE: &str = "STAGE";

/// `METRICS_NAMESPACE`'s default; the CDK app sets the same.
pub const DEFAULT_METRICS_NAMESPACE: &str = "InviteRouter";

/// Where `invite-router process` sends replies from when `REPLY_FROM` is not set.
pub const DEFAULT_LOCAL_REPLY_FROM: &str = "invite-router@localhost";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicArns {
    pub create: String,
    pub update: String,
    pub cancel: String,
    pub rejected: String,
}

impl TopicArns {
    pub fn arn(&self, topic: Topic) -> &str {
        match topic {
            Topic::Create => &self.create,
            Topic::Update => &self.update,
            Topic::Cancel => &self.cancel,
            Topic::Rejected => &self.rejected,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub topics: TopicArns,
    pub ledger_table: String,
    pub queue_url: String,
    pub limits: Limits,
    pub policy: SenderPolicy,
    /// `NOTIFY_ON_SUCCESS`: also confirm accepted invitations to their organizer.
    pub notify_on_success: bool,
    pub batch_concurrency: usize,
    pub metrics: MetricsSettings,
}

/// Where both functions file their CloudWatch metrics (EMF): `METRICS_NAMESPACE` (default
/// `InviteRouter`) and the `Stage` dimension, `STAGE` (default `default`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSettings {
    pub namespace: String,
    pub stage: String,
}

impl MetricsSettings {
    fn read(reader: &mut Reader<'_>) -> MetricsSettings {
        let name = |text: &str| {
            let text = text.trim();
            (!text.is_empty() && text.len() <= 255).then(|| text.to_owned())
        };
        MetricsSettings {
            namespace: reader.optional(
                METRICS_NAMESPACE,
                DEFAULT_METRICS_NAMESPACE.to_owned(),
                "a CloudWatch namespace (1 to 255 characters)",
                name,
            ),
            stage: reader.optional(
                STAGE,
                "default".to_owned(),
                "a stage name (1 to 255 characters)",
                name,
            ),
        }
    }
}

/// One bad variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigProblem {
    Missing {
        name: &'static str,
    },
    Malformed {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigProblem::Missing { name } => write!(f, "{name} is not set"),
            ConfigProblem::Malformed {
                name,
                value,
                expected,
            } => write!(f, "{name}={value:?} is not {expected}"),
        }
    }
}

/// Every problem found in the environment. Permanent: the function cannot start until the
/// deployment is fixed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct ConfigError {
    pub problems: Vec<ConfigProblem>,
}

impl ConfigError {
    pub fn names(&self) -> Vec<&'static str> {
        self.problems
            .iter()
            .map(|problem| match problem {
                ConfigProblem::Missing { name } | ConfigProblem::Malformed { name, .. } => *name,
            })
            .collect()
    }
}

/// Collects problems instead of stopping at the first.
struct Reader<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<ConfigProblem>,
}

impl Reader<'_> {
    /// `value`, or every problem found while reading it.
    fn finish<T>(self, value: T) -> Result<T, ConfigError> {
        if self.problems.is_empty() {
            Ok(value)
        } else {
            Err(ConfigError {
                problems: self.problems,
            })
        }
    }

    /// A required, non-blank value.
    fn required(&mut self, name: &'static str) -> String {
        match (self.env)(name).filter(|value| !value.trim().is_empty()) {
            Some(value) => value.trim().to_owned(),
            None => {
                self.problems.push(ConfigProblem::Missing { name });
                String::new()
            }
        }
    }

    /// A required SNS topic ARN. Checked here because SNS answers a malformed one with the same
    /// `InvalidParameter` as a message it refuses for good, and such an outbox entry is set aside.
    fn topic_arn(&mut self, name: &'static str) -> String {
        let value = self.required(name);
        let parts: Vec<&str> = value.split(':').collect();
        let well_formed = parts.len() == 6
            && parts[0] == "arn"
            && parts[2] == "sns"
            && parts.iter().all(|part| !part.is_empty());
        if !value.is_empty() && !well_formed {
            self.problems.push(ConfigProblem::Malformed {
                name,
                value: value.clone(),
                expected: "an SNS topic ARN (arn:PARTITION:sns:REGION:ACCOUNT:NAME)",
            });
        }
        value
    }

    fn optional<T>(
        &mut self,
        name: &'static str,
        default: T,
        expected: &'static str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> T {
        let Some(value) = (self.env)(name).filter(|value| !value.trim().is_empty()) else {
            return default;
        };
        match parse(value.trim()) {
            Some(parsed) => parsed,
            None => {
                self.problems.push(ConfigProblem::Malformed {
                    name,
                    value,
                    expected,
                });
                default
            }
        }
    }
}

fn positive_integer(text: &str) -> Option<usize> {
    text.parse::<usize>().ok().filter(|value| *value > 0)
}

fn boolean(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

impl Config {
    /// Reads the configuration through `env` (`|name| std::env::var(name).ok()` in the Lambda).
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut reader = Reader {
            env,
            problems: Vec::new(),
        };
        let topics = TopicArns {
            create: reader.topic_arn(CREATE_TOPIC_ARN),
            update: reader.topic_arn(UPDATE_TOPIC_ARN),
            cancel: reader.topic_arn(CANCEL_TOPIC_ARN),
            rejected: reader.topic_arn(REJECTED_TOPIC_ARN),
        };
        let ledger_table = reader.required(LEDGER_TABLE);
        let queue_url = reader.required(QUEUE_URL);
        let core = CoreSettings::read(&mut reader);
        let batch_concurrency = reader.optional(
            BATCH_CONCURRENCY,
            crate::service::DEFAULT_BATCH_CONCURRENCY,
            "a positive integer",
            positive_integer,
        );
        let metrics = MetricsSettings::read(&mut reader);
        reader.finish(Config {
            topics,
            ledger_table,
            queue_url,
            limits: core.limits,
            policy: core.policy,
            notify_on_success: core.notify_on_success,
            batch_concurrency,
            metrics,
        })
    }
}

pub const REPLY_TABLE: &str = "REPLY_TABLE";
pub const REPLY_CONFIGURATION_SET: &str = "REPLY_CONFIGURATION_SET";
pub const REPLY_CLAIM_SECONDS: &str = "REPLY_CLAIM_SECONDS";

/// The notifier Lambda's configuration, read once at start, every problem named at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifierConfig {
    /// The DynamoDB table of the reply log (partition key `id`, TTL attribute `expires_at`).
    pub reply_table: String,
    /// The verified SES identity replies are sent from.
    pub reply_from: String,
    pub rate_limit: u32,
    /// `REPLY_CLAIM_SECONDS`: how long an unsettled reply claim is another worker's (the CDK app
    /// derives it from the notifier queue's visibility timeout).
    pub claim_seconds: i64,
    pub configuration_set: Option<String>,
    pub batch_concurrency: usize,
    pub metrics: MetricsSettings,
}

impl NotifierConfig {
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<NotifierConfig, ConfigError> {
        let mut reader = Reader {
            env,
            problems: Vec::new(),
        };
        let reply_table = reader.required(REPLY_TABLE);
        let reply_from = reader.required(REPLY_FROM);
        if !reply_from.is_empty() && !reply_from.contains('@') {
            reader.problems.push(ConfigProblem::Malformed {
                name: REPLY_FROM,
                value: reply_from.clone(),
                expected: "an email address",
            });
        }
        let rate_limit = reader.optional(
            REPLY_RATE_LIMIT,
            crate::notifier::DEFAULT_REPLY_RATE_LIMIT,
            "a positive number of replies per recipient per 24 hours",
            |text| text.parse::<u32>().ok().filter(|limit| *limit > 0),
        );
        let claim_seconds = reader.optional(
            REPLY_CLAIM_SECONDS,
            crate::ports::CLAIM_TIMEOUT_SECONDS,
            "a positive number of seconds",
            |text| {
                text.trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|seconds| *seconds > 0)
            },
        );
        let configuration_set = reader.optional(
            REPLY_CONFIGURATION_SET,
            None,
            "an SES configuration set name",
            |text| Some(Some(text.to_owned())),
        );
        let batch_concurrency = reader.optional(
            BATCH_CONCURRENCY,
            crate::service::DEFAULT_BATCH_CONCURRENCY,
            "a positive integer",
            positive_integer,
        );
        let metrics = MetricsSettings::read(&mut reader);
        reader.finish(NotifierConfig {
            reply_table,
            reply_from: reply_from.to_lowercase(),
            rate_limit,
            claim_seconds,
            configuration_set,
            batch_concurrency,
            metrics,
        })
    }
}

/// The settings the core itself reads (limits and the sender policy): what the Lambda and
/// `invite-router process` share, so that a local run reproduces a production refusal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoreSettings {
    pub limits: Limits,
    pub policy: SenderPolicy,
    /// `REPLY_FROM`: the verified address replies are sent from (also one of our own addresses).
    pub reply_from: Option<String>,
    /// `REPLY_RATE_LIMIT`: replies per recipient per 24 hours.
    pub reply_rate_limit: u32,
    /// `NOTIFY_ON_SUCCESS`: also confirm accepted invitations to their organizer.
    pub notify_on_success: bool,
}

impl CoreSettings {
    /// Reads only these settings, every problem named at once.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<CoreSettings, ConfigError> {
        let mut reader = Reader {
            env,
            problems: Vec::new(),
        };
        let settings = CoreSettings::read(&mut reader);
        reader.finish(settings)
    }

    fn read(reader: &mut Reader<'_>) -> CoreSettings {
        let defaults = Limits::default();
        let limits = Limits {
            max_email_bytes: reader.optional(
                MAX_EMAIL_BYTES,
                defaults.max_email_bytes,
                "a positive number of bytes",
                positive_integer,
            ),
            max_calendar_bytes: reader.optional(
                MAX_CALENDAR_BYTES,
                defaults.max_calendar_bytes,
                "a positive number of bytes",
                positive_integer,
            ),
            max_components: reader.optional(
                MAX_COMPONENTS,
                defaults.max_components,
                "a positive number of calendar components",
                positive_integer,
            ),
            max_attendees: reader.optional(
                MAX_ATTENDEES,
                defaults.max_attendees,
                "a positive number of attendees per event",
                positive_integer,
            ),
        };
        let delegation = reader.optional(
            DELEGATION,
            "same-domain".to_owned(),
            "same-domain, listed or off",
            |text| {
                let text = text.to_ascii_lowercase();
                matches!(text.as_str(), "same-domain" | "listed" | "off").then_some(text)
            },
        );
        let delegates = reader.optional(
            DELEGATES,
            Vec::new(),
            "organizer=delegate pairs separated by ';'",
            parse_delegates,
        );
        let mut own_addresses = reader.optional(
            DROPBOX_ADDRESSES,
            Vec::new(),
            "addresses or domains separated by ','",
            address_list,
        );
        let reply_from = reader.optional(REPLY_FROM, None, "an email address", |text| {
            let text = text.trim();
            (text.contains('@') && !text.contains(char::is_whitespace))
                .then(|| Some(text.to_lowercase()))
        });
        own_addresses.extend(reply_from.clone());
        let policy = SenderPolicy {
            require_authentication: reader.optional(
                REQUIRE_AUTHENTICATION,
                false,
                "true or false",
                boolean,
            ),
            delegation: match delegation.as_str() {
                "listed" => Delegation::Listed(delegates),
                "off" => Delegation::Off,
                _ => Delegation::SameDomain,
            },
            own_addresses,
            trusted_authserv_id: reader.optional(
                TRUSTED_AUTHSERV_ID,
                crate::core::DEFAULT_TRUSTED_AUTHSERV_ID.to_owned(),
                "an authserv-id (a domain name, e.g. amazonses.com)",
                |text| {
                    let text = text.trim().to_ascii_lowercase();
                    (!text.is_empty() && !text.contains(|c: char| c.is_whitespace() || c == ';'))
                        .then_some(text)
                },
            ),
        };
        let reply_rate_limit = reader.optional(
            REPLY_RATE_LIMIT,
            crate::notifier::DEFAULT_REPLY_RATE_LIMIT,
            "a positive number of replies per recipient per 24 hours",
            |text| text.parse::<u32>().ok().filter(|limit| *limit > 0),
        );
        let notify_on_success = reader.optional(NOTIFY_ON_SUCCESS, false, "true or false", boolean);
        CoreSettings {
            limits,
            policy,
            reply_from,
            reply_rate_limit,
            notify_on_success,
        }
    }
}

/// `create@invites.example.org, invites.example.com`: addresses or whole domains, lower-case.
fn address_list(text: &str) -> Option<Vec<String>> {
    text.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            (!entry.contains(char::is_whitespace) && entry.contains('.'))
                .then(|| entry.to_lowercase())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const COMPLETE: [(&str, &str); 6] = [
        (CREATE_TOPIC_ARN, "arn:aws:sns:us-east-1:1:create"),
        (UPDATE_TOPIC_ARN, "arn:aws:sns:us-east-1:1:update"),
        (CANCEL_TOPIC_ARN, "arn:aws:sns:us-east-1:1:cancel"),
        (REJECTED_TOPIC_ARN, "arn:aws:sns:us-east-1:1:rejected"),
        (LEDGER_TABLE, "ledger"),
        (QUEUE_URL, "https://sqs.us-east-1.amazonaws.com/1/inbound"),
    ];

    #[test]
    fn metrics_are_filed_under_the_namespace_and_stage_given() {
        let read = |extra: &[(&str, &str)]| {
            let pairs: Vec<(&str, &str)> = COMPLETE.iter().chain(extra).copied().collect();
            Config::from_env(&env(&pairs))
        };
        let defaults = read(&[]).expect("valid").metrics;
        assert_eq!(
            (defaults.namespace.as_str(), defaults.stage.as_str()),
            ("InviteRouter", "default")
        );
        let given = read(&[(METRICS_NAMESPACE, "InviteRouter/prod"), (STAGE, "prod")])
            .expect("valid")
            .metrics;
        assert_eq!(
            (given.namespace.as_str(), given.stage.as_str()),
            ("InviteRouter/prod", "prod")
        );
        let long = "s".repeat(256);
        let error = read(&[(STAGE, &long)]).expect_err("too long");
        assert_eq!(error.names(), [STAGE]);
    }

    #[test]
    fn a_complete_environment_reads_with_defaults() {
        let config = Config::from_env(&env(&COMPLETE)).unwrap();
        assert_eq!(
            config.topics.arn(Topic::Cancel),
            "arn:aws:sns:us-east-1:1:cancel"
        );
        assert_eq!(
            config.topics.arn(Topic::Rejected),
            "arn:aws:sns:us-east-1:1:rejected"
        );
        assert_eq!(config.ledger_table, "ledger");
        assert_eq!(config.limits, Limits::default());
        assert!(!config.policy.require_authentication);
        assert_eq!(config.policy.trusted_authserv_id, "amazonses.com");
        assert_eq!(
            config.batch_concurrency,
            crate::service::DEFAULT_BATCH_CONCURRENCY
        );
    }

    #[test]
    fn optional_values_are_typed() {
        let mut pairs = COMPLETE.to_vec();
        pairs.extend([
            (MAX_EMAIL_BYTES, "2048"),
            (MAX_CALENDAR_BYTES, "1024"),
            (MAX_COMPONENTS, "20"),
            (MAX_ATTENDEES, "300"),
            (REQUIRE_AUTHENTICATION, "TRUE"),
            (TRUSTED_AUTHSERV_ID, " Mx.Example.ORG "),
            (BATCH_CONCURRENCY, "3"),
        ]);
        let config = Config::from_env(&env(&pairs)).unwrap();
        assert_eq!(config.limits.max_email_bytes, 2048);
        assert_eq!(config.limits.max_calendar_bytes, 1024);
        assert_eq!(config.limits.max_components, 20);
        assert_eq!(config.limits.max_attendees, 300);
        assert!(config.policy.require_authentication);
        assert_eq!(config.policy.trusted_authserv_id, "mx.example.org");
        assert_eq!(config.batch_concurrency, 3);
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let error = Config::from_env(&env(&[
            (CREATE_TOPIC_ARN, "arn:create"),
            (LEDGER_TABLE, "  "),
            (MAX_EMAIL_BYTES, "ten megabytes"),
            (MAX_CALENDAR_BYTES, "0"),
            (MAX_ATTENDEES, "-5"),
            (REQUIRE_AUTHENTICATION, "maybe"),
        ]))
        .unwrap_err();
        assert_eq!(
            error.names(),
            vec![
                CREATE_TOPIC_ARN,
                UPDATE_TOPIC_ARN,
                CANCEL_TOPIC_ARN,
                REJECTED_TOPIC_ARN,
                LEDGER_TABLE,
                QUEUE_URL,
                MAX_EMAIL_BYTES,
                MAX_CALENDAR_BYTES,
                MAX_ATTENDEES,
                REQUIRE_AUTHENTICATION,
            ]
        );
        let text = error.to_string();
        for name in error.names() {
            assert!(text.contains(name), "{text}");
        }
        assert!(text.contains("\"ten megabytes\""), "{text}");
        assert!(
            text.contains("CREATE_TOPIC_ARN=\"arn:create\" is not an SNS topic ARN"),
            "{text}"
        );
    }
}
