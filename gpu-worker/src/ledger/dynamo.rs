//! The production ledger: one DynamoDB item per job, changed only through
//! conditional writes.
//!
//! Table: partition key `job_id` (S), nothing else required. Attributes:
//! `job_state` (S: leased | released | done | failed), `holder` (S, while
//! leased), `lease_until` (N, Unix ms; 0 when not leased), `attempts` (N),
//! `reason` (S), `updated_ms` (N). Every attribute name goes through an
//! `#alias`, so DynamoDB's reserved words can never bite.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValue,
    ScalarAttributeType,
};

use super::{BoxFuture, JobLedger, JobRecord, JobState, Lease, LedgerError};

type Item = HashMap<String, AttributeValue>;

/// A [`JobLedger`] in a DynamoDB table. Cheap to clone.
#[derive(Clone, Debug)]
pub struct DynamoLedger {
    client: Client,
    table: String,
}

/// Attribute-name aliases used by every expression.
const NAMES: [(&str, &str); 7] = [
    ("#id", "job_id"),
    ("#st", "job_state"),
    ("#holder", "holder"),
    ("#until", "lease_until"),
    ("#attempts", "attempts"),
    ("#reason", "reason"),
    ("#updated", "updated_ms"),
];

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn backend(e: impl std::fmt::Display) -> LedgerError {
    LedgerError::Backend(format!("dynamodb: {e}"))
}

/// The service's own code and message when there is one, the SDK's otherwise.
fn sdk_error<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    e: SdkError<E, R>,
) -> LedgerError {
    match e.as_service_error() {
        Some(service) => backend(format!(
            "{}: {}",
            service.code().unwrap_or("error"),
            service.message().unwrap_or("")
        )),
        None => backend(aws_sdk_dynamodb::error::DisplayErrorContext(&e)),
    }
}

fn is_condition_failure(e: &SdkError<UpdateItemError, impl std::fmt::Debug>) -> bool {
    e.as_service_error()
        .is_some_and(UpdateItemError::is_conditional_check_failed_exception)
}

impl DynamoLedger {
    /// Uses `table` (partition key `job_id`, a string) through `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoLedger {
            client,
            table: table.into(),
        }
    }

    /// Creates the table (on-demand billing) if it does not exist; for
    /// development servers and tests. Production tables come from infra.
    pub async fn create_table(&self) -> Result<(), LedgerError> {
        let key = "job_id";
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(key)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(backend)?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(key)
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(backend)?,
            )
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_in_use_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// An UpdateItem on `job_id` with the given expressions; `names` picks
    /// the aliases the expressions use (DynamoDB refuses unused ones).
    fn update(
        &self,
        job_id: &str,
        update: &str,
        condition: Option<&str>,
        values: Vec<(&str, AttributeValue)>,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        let text = format!("{update} {}", condition.unwrap_or(""));
        let mut call = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("job_id", s(job_id))
            .update_expression(update)
            .set_condition_expression(condition.map(str::to_owned))
            .return_values(ReturnValue::AllNew);
        for (alias, name) in NAMES {
            if text.contains(alias) {
                call = call.expression_attribute_names(alias, name);
            }
        }
        for (placeholder, value) in values {
            call = call.expression_attribute_values(placeholder, value);
        }
        call
    }

    async fn read(&self, job_id: &str) -> Result<Option<JobRecord>, LedgerError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("job_id", s(job_id))
            // Classifying a failed condition must see the write that beat us.
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        out.item().map(|item| record(job_id, item)).transpose()
    }
}

/// Decodes an item this module wrote.
fn record(job_id: &str, item: &Item) -> Result<JobRecord, LedgerError> {
    let corrupt = |detail: String| LedgerError::Corrupt {
        job_id: job_id.to_owned(),
        detail,
    };
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let number = |name: &str| -> Result<u64, LedgerError> {
        match item.get(name) {
            None => Ok(0),
            Some(v) => v
                .as_n()
                .ok()
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| corrupt(format!("{name} is not a whole number"))),
        }
    };
    let raw_state = text("job_state").unwrap_or_default();
    Ok(JobRecord {
        state: JobState::parse(&raw_state)
            .ok_or_else(|| corrupt(format!("unknown state {raw_state:?}")))?,
        holder: text("holder"),
        lease_until_ms: number("lease_until")?,
        attempts: u32::try_from(number("attempts")?)
            .map_err(|_| corrupt("attempts out of range".into()))?,
        reason: text("reason"),
    })
}

impl JobLedger for DynamoLedger {
    fn lease<'a>(
        &'a self,
        job_id: &'a str,
        holder: &'a str,
        now_ms: u64,
        lease_ms: u64,
    ) -> BoxFuture<'a, Result<Lease, LedgerError>> {
        Box::pin(async move {
            // New item, or a non-final one whose lease ran out (released
            // items have lease_until 0). One writer wins; the rest fail the condition.
            let taken = self
                .update(
                    job_id,
                    "SET #st = :leased, #holder = :holder, #until = :until, \
                     #attempts = if_not_exists(#attempts, :zero) + :one, #updated = :now",
                    Some(
                        "attribute_not_exists(#id) OR \
                         ((#st = :leased OR #st = :released) AND #until <= :now)",
                    ),
                    vec![
                        (":leased", s(JobState::Leased.as_str())),
                        (":released", s(JobState::Released.as_str())),
                        (":holder", s(holder)),
                        (":until", n(now_ms.saturating_add(lease_ms))),
                        (":now", n(now_ms)),
                        (":zero", n(0)),
                        (":one", n(1)),
                    ],
                )
                .send()
                .await;
            match taken {
                Ok(out) => {
                    let item = out.attributes().cloned().unwrap_or_default();
                    let r = record(job_id, &item)?;
                    Ok(Lease::Leased {
                        attempt: r.attempts,
                        last_error: r.reason,
                    })
                }
                Err(e) if is_condition_failure(&e) => match self.read(job_id).await? {
                    Some(r) if r.state.is_final() => Ok(Lease::Done),
                    Some(r) => Ok(Lease::Busy {
                        until_ms: r.lease_until_ms,
                    }),
                    // Deleted between the write and the read: let the delivery retry.
                    None => Err(backend("job record vanished during lease")),
                },
                Err(e) => Err(sdk_error(e)),
            }
        })
    }

    fn renew<'a>(
        &'a self,
        job_id: &'a str,
        holder: &'a str,
        now_ms: u64,
        lease_ms: u64,
    ) -> BoxFuture<'a, Result<bool, LedgerError>> {
        Box::pin(async move {
            let renewed = self
                .update(
                    job_id,
                    "SET #until = :until, #updated = :now",
                    Some("#st = :leased AND #holder = :holder"),
                    vec![
                        (":leased", s(JobState::Leased.as_str())),
                        (":holder", s(holder)),
                        (":until", n(now_ms.saturating_add(lease_ms))),
                        (":now", n(now_ms)),
                    ],
                )
                .send()
                .await;
            match renewed {
                Ok(_) => Ok(true),
                Err(e) if is_condition_failure(&e) => Ok(false),
                Err(e) => Err(sdk_error(e)),
            }
        })
    }

    fn complete<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, Result<(), LedgerError>> {
        Box::pin(async move {
            self.update(
                job_id,
                "SET #st = :done, #until = :zero, #updated = :now REMOVE #holder",
                None,
                vec![
                    (":done", s(JobState::Completed.as_str())),
                    (":zero", n(0)),
                    (":now", n(crate::now_ms())),
                ],
            )
            .send()
            .await
            .map_err(sdk_error)?;
            Ok(())
        })
    }

    fn record_failure<'a>(
        &'a self,
        job_id: &'a str,
        holder: &'a str,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<u32, LedgerError>> {
        Box::pin(async move {
            let released = self
                .update(
                    job_id,
                    "SET #st = :released, #until = :zero, #reason = :reason, #updated = :now \
                     REMOVE #holder",
                    Some("#st = :leased AND #holder = :holder"),
                    vec![
                        (":released", s(JobState::Released.as_str())),
                        (":leased", s(JobState::Leased.as_str())),
                        (":holder", s(holder)),
                        (":reason", s(reason)),
                        (":zero", n(0)),
                        (":now", n(crate::now_ms())),
                    ],
                )
                .send()
                .await;
            match released {
                Ok(out) => {
                    let item = out.attributes().cloned().unwrap_or_default();
                    Ok(record(job_id, &item)?.attempts)
                }
                // Lost the lease: report the count, leave the new holder alone.
                Err(e) if is_condition_failure(&e) => {
                    Ok(self.read(job_id).await?.map_or(0, |r| r.attempts))
                }
                Err(e) => Err(sdk_error(e)),
            }
        })
    }

    fn fail_terminally<'a>(
        &'a self,
        job_id: &'a str,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), LedgerError>> {
        Box::pin(async move {
            let failed = self
                .update(
                    job_id,
                    "SET #st = :failed, #until = :zero, #reason = :reason, #updated = :now \
                     REMOVE #holder",
                    Some("attribute_not_exists(#id) OR #st <> :done"),
                    vec![
                        (":failed", s(JobState::Failed.as_str())),
                        (":done", s(JobState::Completed.as_str())),
                        (":reason", s(reason)),
                        (":zero", n(0)),
                        (":now", n(crate::now_ms())),
                    ],
                )
                .send()
                .await;
            match failed {
                // A completed job stays completed; nothing to do.
                Ok(_) => Ok(()),
                Err(e) if is_condition_failure(&e) => Ok(()),
                Err(e) => Err(sdk_error(e)),
            }
        })
    }

    fn get<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, Result<Option<JobRecord>, LedgerError>> {
        Box::pin(self.read(job_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_decode_and_refuse_strangers() {
        let item: Item = [
            ("job_id", s("J")),
            ("job_state", s("leased")),
            ("holder", s("w#1")),
            ("lease_until", n(42)),
            ("attempts", n(2)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let r = record("J", &item).unwrap();
        assert_eq!(r.state, JobState::Leased);
        assert_eq!((r.lease_until_ms, r.attempts), (42, 2));
        assert_eq!(r.holder.as_deref(), Some("w#1"));
        let mut bad = item.clone();
        bad.insert("job_state".into(), s("sleeping"));
        assert!(matches!(
            record("J", &bad),
            Err(LedgerError::Corrupt { .. })
        ));
        bad.insert("job_state".into(), s("done"));
        bad.insert("attempts".into(), s("two"));
        assert!(record("J", &bad).is_err());
    }
}
