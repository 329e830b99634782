//! Decodes `Content-Encoding: aws-chunked` bodies: what SDKs send for
//! streaming uploads (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`, or with each
//! chunk signed, `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`).
//!
//! Wire form: `hex-size[;chunk-signature=sig]\r\n data \r\n` repeated, then a
//! zero-size chunk, optional trailer lines and an empty line.

use dreamreel_sigv4::ChunkSigner;
use sha2::{Digest, Sha256};

/// Longest chunk header or trailer line accepted.
const MAX_LINE: usize = 4096;

/// Why a chunked body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChunkError {
    /// Not in the aws-chunked format.
    Malformed(&'static str),
    /// A chunk's signature is missing or wrong.
    Signature,
}

enum State {
    Header,
    Data { remaining: u64 },
    DataEnd,
    Trailer,
    Done,
}

/// Incremental decoder: feed it the body as it arrives.
pub(crate) struct ChunkDecoder {
    state: State,
    line: Vec<u8>,
    signer: Option<ChunkSigner>,
    claimed: String,
    hasher: Sha256,
}

impl ChunkDecoder {
    /// A decoder; with `signer`, every chunk's signature is checked.
    pub fn new(signer: Option<ChunkSigner>) -> Self {
        ChunkDecoder {
            state: State::Header,
            line: Vec::new(),
            signer,
            claimed: String::new(),
            hasher: Sha256::new(),
        }
    }

    /// Decodes `input`, appending payload bytes to `out`.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), ChunkError> {
        while !input.is_empty() {
            match self.state {
                State::Header | State::Trailer | State::DataEnd => {
                    let Some(line) = self.take_line(&mut input)? else {
                        return Ok(());
                    };
                    self.on_line(&line)?;
                }
                State::Data { remaining } => {
                    let n = remaining.min(input.len() as u64) as usize;
                    let (data, rest) = input.split_at(n);
                    if self.signer.is_some() {
                        self.hasher.update(data);
                    }
                    out.extend_from_slice(data);
                    input = rest;
                    self.state = if remaining == n as u64 {
                        self.end_chunk()?;
                        State::DataEnd
                    } else {
                        State::Data {
                            remaining: remaining - n as u64,
                        }
                    };
                }
                State::Done => return Err(ChunkError::Malformed("data after the final chunk")),
            }
        }
        Ok(())
    }

    /// Confirms the body ended where the format says it ends.
    pub fn finish(&self) -> Result<(), ChunkError> {
        match self.state {
            State::Done => Ok(()),
            _ => Err(ChunkError::Malformed("the body ended inside a chunk")),
        }
    }

    /// Takes bytes up to and including CRLF; `None` when the line is incomplete.
    fn take_line(&mut self, input: &mut &[u8]) -> Result<Option<Vec<u8>>, ChunkError> {
        match input.iter().position(|&b| b == b'\n') {
            Some(i) => {
                self.line.extend_from_slice(&input[..=i]);
                *input = &input[i + 1..];
                let mut line = std::mem::take(&mut self.line);
                if !line.ends_with(b"\r\n") {
                    return Err(ChunkError::Malformed("lines must end with CRLF"));
                }
                line.truncate(line.len() - 2);
                Ok(Some(line))
            }
            None => {
                self.line.extend_from_slice(input);
                *input = &[];
                if self.line.len() > MAX_LINE {
                    return Err(ChunkError::Malformed("chunk header too long"));
                }
                Ok(None)
            }
        }
    }

    fn on_line(&mut self, line: &[u8]) -> Result<(), ChunkError> {
        match self.state {
            State::DataEnd if line.is_empty() => self.state = State::Header,
            State::DataEnd => return Err(ChunkError::Malformed("chunk data longer than its size")),
            State::Trailer if line.is_empty() => self.state = State::Done,
            // Trailing checksums (x-amz-checksum-*) are not verified here.
            State::Trailer => {}
            State::Header => {
                let line = std::str::from_utf8(line)
                    .map_err(|_| ChunkError::Malformed("chunk header is not text"))?;
                let (size, ext) = line.split_once(';').unwrap_or((line, ""));
                let size = u64::from_str_radix(size.trim(), 16)
                    .map_err(|_| ChunkError::Malformed("chunk size is not hex"))?;
                self.claimed = ext
                    .trim()
                    .strip_prefix("chunk-signature=")
                    .unwrap_or_default()
                    .to_owned();
                if size == 0 {
                    self.end_chunk()?;
                    self.state = State::Trailer;
                } else {
                    self.state = State::Data { remaining: size };
                }
            }
            State::Data { .. } | State::Done => unreachable!("lines are read only between chunks"),
        }
        Ok(())
    }

    fn end_chunk(&mut self) -> Result<(), ChunkError> {
        if let Some(signer) = &mut self.signer {
            let digest: [u8; 32] = std::mem::take(&mut self.hasher).finalize().into();
            signer
                .verify_chunk_digest(&self.claimed, &digest)
                .map_err(|_| ChunkError::Signature)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dreamreel_sigv4::{Credentials, Request, Signer};

    fn decode_in_pieces(
        body: &[u8],
        piece: usize,
        signer: Option<ChunkSigner>,
    ) -> Result<Vec<u8>, ChunkError> {
        let mut d = ChunkDecoder::new(signer);
        let mut out = Vec::new();
        for part in body.chunks(piece) {
            d.feed(part, &mut out)?;
        }
        d.finish()?;
        Ok(out)
    }

    #[test]
    fn unsigned_with_trailer() {
        let body = b"5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
        for piece in [1, 2, 7, body.len()] {
            assert_eq!(decode_in_pieces(body, piece, None).unwrap(), b"hello world");
        }
        assert!(decode_in_pieces(&body[..body.len() - 2], 4, None).is_err());
        assert!(decode_in_pieces(b"5\r\nhello!\r\n0\r\n\r\n", 3, None).is_err());
        assert!(decode_in_pieces(b"zz\r\n", 3, None).is_err());
    }

    #[test]
    fn signed_chunks_are_checked() {
        let signer = Signer::new(Credentials::new("AK", "SK"), "us-east-1");
        let req = Request::new("PUT", "/b/k").with_header("host", "h");
        let auth = signer
            .sign(&req, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", 1_700_000_000)
            .unwrap();
        let mut chain = signer.chunk_signer(&auth, 1_700_000_000);
        let mut body = Vec::new();
        for data in [&b"abc"[..], b"defg", b""] {
            let sig = chain.sign_chunk(data);
            body.extend_from_slice(
                format!("{:x};chunk-signature={sig}\r\n", data.len()).as_bytes(),
            );
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        }
        let verifier = || Some(signer.chunk_signer(&auth, 1_700_000_000));
        assert_eq!(decode_in_pieces(&body, 5, verifier()).unwrap(), b"abcdefg");
        let tampered = String::from_utf8(body).unwrap().replace("defg", "DEFG");
        assert_eq!(
            decode_in_pieces(tampered.as_bytes(), 5, verifier()),
            Err(ChunkError::Signature)
        );
    }
}
