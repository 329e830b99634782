//! The DynamoDB ledger against a real DynamoDB-compatible server: moto's
//! (`pip install "moto[server]"`), started by the test on a free port. It
//! evaluates condition expressions the way DynamoDB does, so the lease
//! semantics are tested on the wire, not against a mock of our own.

mod moto;

use std::sync::Arc;

use dreamreel_worker::ledger::conformance;
use dreamreel_worker::{AwsSettings, DynamoLedger, JobLedger, JobState, Lease};

async fn ledger(moto: &moto::Moto, table: &str) -> DynamoLedger {
    let mut aws = AwsSettings::new("us-east-1", "testing", "testing");
    aws.dynamodb_endpoint = Some(moto.url.clone());
    let ledger = DynamoLedger::new(aws.dynamodb_client(), table);
    ledger.create_table().await.expect("create table");
    // Creating it again is fine (development setups call this at start).
    ledger.create_table().await.expect("create table twice");
    ledger
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_ledger_keeps_the_contract() {
    let moto = moto::start();
    let ledger = ledger(&moto, "jobs-contract").await;
    conformance::check(&ledger).await;

    // Many workers racing from many tasks: exactly one lease per expiry.
    let ledger = Arc::new(ledger);
    let job = "01JRACE0000000000000000000";
    for (round, now) in [(1u32, 10_000u64), (2, 20_000), (3, 30_000)] {
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let ledger = ledger.clone();
                tokio::spawn(async move {
                    ledger
                        .lease(job, &format!("w{round}-{i}"), now, 5_000)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                Lease::Leased { attempt, .. } => winners.push(attempt),
                Lease::Busy { until_ms } => assert_eq!(until_ms, now + 5_000),
                Lease::Done => panic!("not done yet"),
            }
        }
        assert_eq!(winners, [round], "round {round}");
    }
    // A failure from a stale holder does not free the live lease.
    assert_eq!(
        ledger.record_failure(job, "w1-0", "stale").await.unwrap(),
        3
    );
    assert_eq!(
        ledger.lease(job, "late", 34_999, 5_000).await.unwrap(),
        Lease::Busy { until_ms: 35_000 }
    );
    ledger.complete(job).await.unwrap();
    assert_eq!(
        ledger
            .lease(job, "late", u64::MAX / 2, 5_000)
            .await
            .unwrap(),
        Lease::Done
    );
    let record = ledger.get(job).await.unwrap().unwrap();
    assert_eq!((record.state, record.attempts), (JobState::Completed, 3));
    assert_eq!(record.holder, None);
}

#[tokio::test]
async fn an_unreachable_table_is_a_ledger_error() {
    let moto = moto::start();
    let mut aws = AwsSettings::new("us-east-1", "testing", "testing");
    aws.dynamodb_endpoint = Some(moto.url.clone());
    let ledger = DynamoLedger::new(aws.dynamodb_client(), "no-such-table");
    let err = ledger
        .lease("01JD0000000000000000000000", "w", 1, 1)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ResourceNotFound"), "{err}");
}
