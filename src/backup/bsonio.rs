//! Reading concatenated BSON documents from a byte stream without decoding them, plus the
//! CRC-64 (ECMA-182, as Go's `hash/crc64` computes it) that mongodump archives carry.

use std::io::{self, Read};

/// Largest document we accept: the server's 16 MiB limit plus its internal headroom.
pub const MAX_DOC: usize = 16 * 1024 * 1024 + 16 * 1024;

/// What [`read_doc`] found at the current position.
pub enum Next {
    Doc(Vec<u8>),
    /// The 0xFFFFFFFF terminator of mongodump's archive format.
    Terminator,
    Eof,
}

/// Reads one BSON document (or an archive terminator) and checks its framing. `offset` is
/// advanced by the bytes consumed, so errors can name where the bad document starts.
pub fn read_doc<R: Read>(r: &mut R, offset: &mut u64) -> io::Result<Next> {
    let mut buf = Vec::new();
    Ok(match read_doc_into(r, offset, &mut buf)? {
        Framed::Doc => Next::Doc(buf),
        Framed::Terminator => Next::Terminator,
        Framed::Eof => Next::Eof,
    })
}

/// The next document of a data file into `buf` (replacing what it held), or `None` at the end
/// of the stream; an archive terminator is an error (data files hold none).
pub fn next_data_doc<'a, R: Read>(
    r: &mut R,
    offset: &mut u64,
    buf: &'a mut Vec<u8>,
) -> io::Result<Option<&'a [u8]>> {
    buf.clear();
    match read_doc_into(r, offset, buf)? {
        Framed::Doc => Ok(Some(&buf[..])),
        Framed::Terminator => Err(bad(*offset - 4, "unexpected terminator")),
        Framed::Eof => Ok(None),
    }
}

/// What [`read_doc_into`] found; a document was appended to the buffer.
enum Framed {
    Doc,
    Terminator,
    Eof,
}

/// [`read_doc`], appending the document to `buf`. On error `buf` is left as it was.
fn read_doc_into<R: Read>(r: &mut R, offset: &mut u64, buf: &mut Vec<u8>) -> io::Result<Framed> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let n = r.read(&mut len[got..])?;
        if n == 0 {
            if got == 0 {
                return Ok(Framed::Eof);
            }
            return Err(bad(*offset, "truncated document length"));
        }
        got += n;
    }
    if len == [0xff; 4] {
        *offset += 4;
        return Ok(Framed::Terminator);
    }
    let size = i32::from_le_bytes(len);
    if size < 5 || size as usize > MAX_DOC {
        return Err(bad(*offset, &format!("invalid document length {size}")));
    }
    let start = buf.len();
    buf.reserve(size as usize);
    buf.extend_from_slice(&len);
    let want = size as u64 - 4;
    let read = r.by_ref().take(want).read_to_end(buf);
    let error = match read {
        Ok(n) if n as u64 != want => Some(bad(*offset, "truncated document")),
        Ok(_) if buf[buf.len() - 1] != 0 => {
            Some(bad(*offset, "document does not end with a zero byte"))
        }
        Ok(_) => None,
        Err(e) => Some(e),
    };
    if let Some(e) = error {
        buf.truncate(start);
        return Err(e);
    }
    *offset += size as u64;
    Ok(Framed::Doc)
}

/// Documents back to back in one buffer: a batch costs two allocations instead of one per
/// document, and the driver reads each document in place when it builds the insert.
#[derive(Debug, Default)]
pub struct DocBatch {
    bytes: Vec<u8>,
    /// end offset of each document in `bytes`
    ends: Vec<usize>,
    /// documents dropped from the front (see [`DocBatch::skip`])
    skipped: usize,
}

impl DocBatch {
    pub fn with_capacity(docs: usize, bytes: usize) -> Self {
        DocBatch {
            bytes: Vec::with_capacity(bytes),
            ends: Vec::with_capacity(docs),
            skipped: 0,
        }
    }

    /// Appends a document after checking its framing (length prefix, trailing zero).
    pub fn push(&mut self, doc: &[u8]) -> Result<(), String> {
        bson::RawDocument::from_bytes(doc).map_err(|e| e.to_string())?;
        self.bytes.extend_from_slice(doc);
        self.ends.push(self.bytes.len());
        Ok(())
    }

    /// Reads the next document of `r` into the batch; `false` at the end of the stream. An
    /// archive terminator is an error here: data files do not contain one.
    pub fn read_from<R: Read>(&mut self, r: &mut R, offset: &mut u64) -> io::Result<bool> {
        match read_doc_into(r, offset, &mut self.bytes)? {
            Framed::Doc => {
                self.ends.push(self.bytes.len());
                Ok(true)
            }
            Framed::Terminator => Err(bad(*offset - 4, "unexpected terminator")),
            Framed::Eof => Ok(false),
        }
    }

    pub fn len(&self) -> usize {
        self.ends.len() - self.skipped
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of the documents still in the batch.
    pub fn byte_len(&self) -> usize {
        self.bytes.len() - self.start_of(self.skipped)
    }

    /// Drops the first `k` documents (already restored by an earlier, interrupted run).
    pub fn skip(&mut self, k: usize) {
        self.skipped = (self.skipped + k).min(self.ends.len());
    }

    pub fn docs(&self) -> impl Iterator<Item = &bson::RawDocument> {
        (self.skipped..self.ends.len()).map(|i| {
            let doc = &self.bytes[self.start_of(i)..self.ends[i]];
            bson::RawDocument::from_bytes(doc).expect("framing checked when the batch was filled")
        })
    }

    fn start_of(&self, i: usize) -> usize {
        if i == 0 { 0 } else { self.ends[i - 1] }
    }
}

/// Fully walks a document's elements (every field parses), without building a tree.
pub fn validate(doc: &[u8]) -> Result<(), String> {
    let raw = bson::RawDocument::from_bytes(doc).map_err(|e| e.to_string())?;
    walk(raw)
}

fn walk(raw: &bson::RawDocument) -> Result<(), String> {
    for el in raw {
        let (_, v) = el.map_err(|e| e.to_string())?;
        match v {
            bson::RawBsonRef::Document(d) => walk(d)?,
            bson::RawBsonRef::Array(a) => {
                for x in a {
                    if let bson::RawBsonRef::Document(d) = x.map_err(|e| e.to_string())? {
                        walk(d)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

pub fn bad(offset: u64, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{what} at byte offset {offset}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_doc_batch_reads_skips_and_hands_out_its_documents_in_place() {
        let docs: Vec<Vec<u8>> = (0..4)
            .map(|i| bson::to_vec(&bson::doc! {"_id": i, "pad": "x".repeat(i as usize)}).unwrap())
            .collect();
        let stream: Vec<u8> = docs.concat();
        let mut r = &stream[..];
        let (mut batch, mut offset) = (DocBatch::default(), 0);
        while batch.read_from(&mut r, &mut offset).unwrap() {}
        assert_eq!(offset, stream.len() as u64);
        assert_eq!((batch.len(), batch.byte_len()), (4, stream.len()));
        batch.skip(1);
        assert_eq!(batch.len(), 3);
        assert_eq!(batch.byte_len(), stream.len() - docs[0].len());
        let ids: Vec<i32> = batch.docs().map(|d| d.get_i32("_id").unwrap()).collect();
        assert_eq!(ids, [1, 2, 3]);
        batch.skip(10);
        assert!(batch.is_empty() && batch.byte_len() == 0 && batch.docs().next().is_none());

        // push checks the framing; a truncated document leaves the batch as it was.
        let mut b = DocBatch::default();
        b.push(&docs[2]).unwrap();
        assert!(b.push(&docs[3][..docs[3].len() - 1]).is_err());
        let mut cut = &docs[3][..docs[3].len() - 2];
        let mut at = 0;
        let e = b.read_from(&mut cut, &mut at).unwrap_err();
        assert!(
            e.to_string()
                .contains("truncated document at byte offset 0"),
            "{e}"
        );
        assert_eq!((b.len(), b.byte_len()), (1, docs[2].len()));
        let mut term = &[0xffu8; 4][..];
        let e = b.read_from(&mut term, &mut at).unwrap_err();
        assert!(
            e.to_string()
                .contains("unexpected terminator at byte offset 0"),
            "{e}"
        );
    }

    #[test]
    fn reads_documents_and_terminators() {
        let a = bson::to_vec(&bson::doc! {"a": 1}).unwrap();
        let mut bytes = a.clone();
        bytes.extend_from_slice(&[0xff; 4]);
        bytes.extend_from_slice(&a[..6]);
        let mut r = &bytes[..];
        let mut off = 0;
        assert!(matches!(read_doc(&mut r, &mut off).unwrap(), Next::Doc(d) if d == a));
        assert!(matches!(
            read_doc(&mut r, &mut off).unwrap(),
            Next::Terminator
        ));
        let e = read_doc(&mut r, &mut off).err().unwrap();
        assert!(
            e.to_string().contains(&format!("offset {}", a.len() + 4)),
            "{e}"
        );
    }
}
