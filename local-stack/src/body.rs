//! Response bodies: whole (JSON, most routes) or streamed frame by frame
//! (Server-Sent Events), behind one type the HTTP server sends.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame};
use tokio::sync::mpsc;

/// Why a streamed body ended early.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// The body of every response the app's server sends.
pub type ResponseBody = BoxBody<Bytes, BodyError>;

/// A complete body.
pub fn full(bytes: impl Into<Bytes>) -> ResponseBody {
    Full::new(bytes.into())
        .map_err(|never: Infallible| match never {})
        .boxed()
}

/// A body fed by a channel, frame by frame; it ends when the sender is
/// dropped, with an error if the producer sends one.
pub fn channel(receiver: mpsc::Receiver<Result<Frame<Bytes>, BodyError>>) -> ResponseBody {
    ChannelBody { receiver }.boxed()
}

struct ChannelBody {
    receiver: mpsc::Receiver<Result<Frame<Bytes>, BodyError>>,
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.receiver.poll_recv(cx)
    }
}
