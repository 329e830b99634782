//! S3's error responses and the response body type.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use dreamreel_sigv4::VerifyError;
use http::{Response, StatusCode};
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;

use super::ObjectError;

/// An S3 error response.
pub(super) struct S3Error {
    pub(super) status: u16,
    pub(super) code: &'static str,
    pub(super) message: String,
    pub(super) headers: Vec<(&'static str, String)>,
}

impl S3Error {
    pub(super) fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        S3Error {
            status,
            code,
            message: message.into(),
            headers: Vec::new(),
        }
    }
}

impl From<ObjectError> for S3Error {
    fn from(e: ObjectError) -> Self {
        let (status, code) = e.s3_code();
        // File-system details stay in the log, not in responses.
        let message = if status == 500 {
            crate::log::error("-", &format!("object store: {e}"));
            "We encountered an internal error. Please try again.".to_owned()
        } else {
            e.to_string()
        };
        S3Error::new(status, code, message)
    }
}

pub(super) fn auth_error(e: VerifyError, presigned: bool) -> S3Error {
    let message = e.to_string();
    match e {
        VerifyError::MissingAuth => {
            S3Error::new(403, "AccessDenied", "Anonymous access is not allowed")
        }
        VerifyError::Malformed(_) if presigned => {
            S3Error::new(400, "AuthorizationQueryParametersError", message)
        }
        VerifyError::Malformed(_) => S3Error::new(400, "AuthorizationHeaderMalformed", message),
        VerifyError::UnknownAccessKey(_) => S3Error::new(403, "InvalidAccessKeyId", message),
        VerifyError::SignatureMismatch => S3Error::new(403, "SignatureDoesNotMatch", message),
        VerifyError::Expired => S3Error::new(403, "AccessDenied", "Request has expired"),
        VerifyError::TimeSkewed => S3Error::new(403, "RequestTimeTooSkewed", message),
        VerifyError::PayloadMismatch => S3Error::new(400, "XAmzContentSHA256Mismatch", message),
    }
}

pub(super) fn not_implemented(what: &str) -> S3Error {
    S3Error::new(
        501,
        "NotImplemented",
        format!("{what} is not implemented by the local store"),
    )
}

/// Response bodies: nothing, a buffer, or an object streamed from disk.
pub(crate) enum ObjectBody {
    Empty,
    Full(Option<Bytes>),
    Stream(mpsc::Receiver<io::Result<Bytes>>),
}

impl Body for ObjectBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.get_mut() {
            ObjectBody::Empty => Poll::Ready(None),
            ObjectBody::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            ObjectBody::Stream(rx) => rx
                .poll_recv(cx)
                .map(|item| item.map(|r| r.map(Frame::data))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, ObjectBody::Empty | ObjectBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ObjectBody::Empty | ObjectBody::Full(None) => SizeHint::with_exact(0),
            ObjectBody::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            ObjectBody::Stream(_) => SizeHint::default(),
        }
    }
}

pub(super) type Reply = Result<Response<ObjectBody>, S3Error>;

pub(super) fn reply(
    status: u16,
    headers: Vec<(&str, String)>,
    body: ObjectBody,
) -> Response<ObjectBody> {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::from_u16(status).expect("S3 statuses are valid");
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            response.headers_mut().append(n, v);
        }
    }
    response
}

pub(super) fn xml_reply(doc: String) -> Response<ObjectBody> {
    reply(
        200,
        vec![("content-type", "application/xml".into())],
        ObjectBody::Full(Some(doc.into())),
    )
}
