//! The SDK's HTTP client speaks TLS through rustls and ring (invite_router::aws::https_client).
//! moto speaks plain HTTP, so the end-to-end tests never open a TLS connection: this one points a
//! client at a loopback listener and checks that what arrives is a TLS ClientHello, and that the
//! failed handshake comes back as an error, not a panic (a missing crypto provider would panic).
#![cfg(feature = "aws")]

use std::io::Read;
use std::net::TcpListener;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_sns::config::Credentials;

#[tokio::test]
async fn the_sdk_opens_tls_connections_with_rustls_and_ring() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        // A TLS record header: content type, protocol version, length; then the handshake type.
        let mut first = [0u8; 6];
        stream.read_exact(&mut first).unwrap();
        first
    });
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .http_client(invite_router::aws::https_client())
        .endpoint_url(format!("https://localhost:{port}"))
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .retry_config(RetryConfig::disabled())
        .load()
        .await;
    let result = aws_sdk_sns::Client::new(&sdk).list_topics().send().await;
    let first = server.join().unwrap();
    assert_eq!(
        first[0], 0x16,
        "a handshake record, not plain HTTP: {first:?}"
    );
    assert_eq!(first[1], 0x03, "TLS: {first:?}");
    assert_eq!(first[5], 0x01, "a ClientHello: {first:?}");
    assert!(result.is_err(), "the listener closed without answering");
}
