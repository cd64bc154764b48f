//! Forwarding pending transactions: what a client submits to one validator reaches every
//! proposer. Each validator sends the transactions it admitted from clients to the others'
//! JSON-RPC (`tx_sendRaw`, in batches); a receiver admits each once and, having admitted it,
//! forwards it in turn, so a transaction spreads even when its first validator loses a link.
//! A transaction that reaches nobody else stays pending where it was acknowledged and is
//! proposed there.

use std::sync::Arc;
use std::time::Duration;

use jsonrpsee::core::client::ClientT as _;
use jsonrpsee::core::params::BatchRequestBuilder;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use tokio::sync::broadcast;

/// Most transactions per forwarded batch (the JSON-RPC server's default batch limit).
const BATCH_MAX: usize = 100;
/// How long a batch collects before it is sent.
const BATCH_WAIT: Duration = Duration::from_millis(5);

/// Forwards everything `admitted` yields to `peers` (JSON-RPC URLs) until the channel closes.
pub async fn forward_admitted(mut admitted: broadcast::Receiver<Arc<Vec<u8>>>, peers: Vec<String>) {
    let clients: Vec<HttpClient> = peers
        .iter()
        .filter_map(|url| {
            HttpClientBuilder::default()
                .request_timeout(Duration::from_secs(2))
                .build(url)
                .ok()
        })
        .collect();
    loop {
        let first = match admitted.recv().await {
            Ok(tx) => tx,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(
                    missed,
                    "forwarding lagged; those transactions stay pending here"
                );
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + BATCH_WAIT;
        while batch.len() < BATCH_MAX {
            match tokio::time::timeout_at(deadline, admitted.recv()).await {
                Ok(Ok(tx)) => batch.push(tx),
                _ => break,
            }
        }
        let batch = Arc::new(batch);
        for client in &clients {
            let (client, batch) = (client.clone(), Arc::clone(&batch));
            tokio::spawn(async move { send(&client, &batch).await });
        }
    }
}

async fn send(client: &HttpClient, batch: &[Arc<Vec<u8>>]) {
    let mut request = BatchRequestBuilder::new();
    for tx in batch {
        if request
            .insert(
                "tx_sendRaw",
                vec![format!("0x{}", hex::encode(tx.as_slice()))],
            )
            .is_err()
        {
            return;
        }
    }
    // Refusals (already known, nonce taken) are expected: another path got there first.
    if let Err(e) = client.batch_request::<serde_json::Value>(request).await {
        tracing::debug!("forwarding to a peer failed: {e}");
    }
}
