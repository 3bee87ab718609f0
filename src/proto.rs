//! The protobuf exposition: hand-written prost messages of
//! `io.prometheus.client` (metrics.proto), varint-delimited framing, and the
//! conversion between wire messages and the model.

use std::fmt;

use crate::model::{MetricFamily, NameValidation};

/// Content type of delimited protobuf pushes and scrapes.
pub const DELIMITED_CONTENT_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    msg: String,
}

impl DecodeError {
    pub fn new(msg: impl Into<String>) -> DecodeError {
        DecodeError { msg: msg.into() }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for DecodeError {}

/// True if and only if `content_type` selects the delimited protobuf format.
pub fn is_delimited_content_type(_content_type: &str) -> bool {
    false
}

/// Decodes a body of varint-delimited `MetricFamily` messages.
pub fn decode_delimited(
    _body: &[u8],
    _names: NameValidation,
) -> Result<Vec<MetricFamily>, DecodeError> {
    Err(DecodeError::new("protobuf pushes are not supported yet"))
}

/// Appends `family` as one varint-delimited `MetricFamily` message.
pub fn encode_delimited(_family: &MetricFamily, _out: &mut Vec<u8>) {}

/// Encodes `family` as one `MetricFamily` message without a length prefix.
pub fn encode_family(_family: &MetricFamily) -> Vec<u8> {
    Vec::new()
}

/// Decodes one `MetricFamily` message without a length prefix.
pub fn decode_family(_bytes: &[u8]) -> Result<MetricFamily, DecodeError> {
    Err(DecodeError::new("not implemented"))
}
