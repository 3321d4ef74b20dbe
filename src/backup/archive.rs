//! mongodump's archive format (mongo-tools `common/archive`, format version 0.1):
//!
//! ```text
//! magic 0x8199e26d (little-endian int32)
//! header      {concurrent_collections: int32, version: "0.1", server_version, tool_version}
//! *metadata   {db, collection, metadata: <the metadata.json text>, size: int32, type}
//! 0xFFFFFFFF
//! *( {db, collection, EOF: false, CRC: 0} +document 0xFFFFFFFF          a segment
//!  | {db, collection, EOF: true,  CRC: crc64-ecma(all documents)} 0xFFFFFFFF )
//! ```
//! Segments of different collections may interleave; each collection ends with its EOF block.
//! `type` in the prelude is mongoctl's (mongodump 100.3.1 writes none; mongorestore ignores
//! it). With --oplog the prelude also holds [`CollectionEntry::oplog`], with
//! --users-and-roles [`CollectionEntry::authz`] entries.
//! Every namespace of the prelude needs an EOF block, views included (mongorestore 100.x
//! fails with "archive finished before all collections were seen" otherwise; mongodump
//! 100.3.1 writes one with CRC 0 for each view): [`ArchiveWriter::new`] ends the views itself.

use std::io::{self, Read, Write};

use anyhow::{Context, Result, bail};
use bson::{Document, doc};

use super::bsonio::{Next, bad, read_doc};

pub const MAGIC: u32 = 0x8199_e26d;
pub const TERMINATOR: [u8; 4] = [0xff; 4];
pub const FORMAT_VERSION: &str = "0.1";

#[derive(Debug, Clone)]
pub struct Header {
    pub concurrent_collections: i32,
    pub server_version: String,
    pub tool_version: String,
}

/// One collection announced in the prelude.
#[derive(Debug, Clone)]
pub struct CollectionEntry {
    pub db: String,
    pub collection: String,
    /// The metadata.json text (canonical Extended JSON).
    pub metadata: String,
    pub size: i64,
    pub kind: String,
}

impl CollectionEntry {
    /// The prelude entry that announces a captured oplog, as mongodump --oplog writes it:
    /// `{db: "", collection: "oplog", metadata: "", size: 0}`. mongorestore 100.x
    /// --oplogReplay only replays an archive's oplog when the prelude announces it ("no oplog
    /// file to replay" otherwise); its documents are the segments of namespace `"".oplog`.
    pub fn oplog() -> Self {
        CollectionEntry {
            db: String::new(),
            collection: "oplog".into(),
            metadata: String::new(),
            size: 0,
            kind: String::new(),
        }
    }

    pub fn is_oplog(&self) -> bool {
        self.db.is_empty() && self.collection == "oplog"
    }

    /// The prelude entry of admin.`coll` (`system.users`, `system.roles`, `system.version`)
    /// saved for database `db`, as mongodump 100.3.1 --dumpDbUsersAndRoles writes it:
    /// `{db, collection: "$admin.system.users", metadata: "", size: 0}`; the documents are
    /// the segments of that namespace (the users' and roles' of `db`, all of system.version).
    pub fn authz(db: &str, coll: &str) -> Self {
        CollectionEntry {
            db: db.into(),
            collection: format!("$admin.{coll}"),
            metadata: String::new(),
            size: 0,
            kind: String::new(),
        }
    }

    /// Users, roles or auth schema version saved with `--users-and-roles`.
    pub fn is_authz(&self) -> bool {
        self.collection.starts_with("$admin.")
    }
}

pub struct ArchiveWriter<W: Write> {
    out: W,
    /// Namespaces whose EOF block is written (a second `eof` for them is a no-op).
    ended: std::collections::HashSet<(String, String)>,
}

impl<W: Write> ArchiveWriter<W> {
    /// Writes the magic number, the header and the prelude.
    pub fn new(mut out: W, header: &Header, entries: &[CollectionEntry]) -> Result<Self> {
        out.write_all(&MAGIC.to_le_bytes())?;
        let h = doc! {
            "concurrent_collections": header.concurrent_collections,
            "version": FORMAT_VERSION,
            "server_version": &header.server_version,
            "tool_version": &header.tool_version,
        };
        h.to_writer(&mut out)?;
        for e in entries {
            let size = i32::try_from(e.size).unwrap_or(i32::MAX);
            let mut d = doc! {
                "db": &e.db,
                "collection": &e.collection,
                "metadata": &e.metadata,
                "size": size,
            };
            if !e.kind.is_empty() {
                d.insert("type", &e.kind);
            }
            d.to_writer(&mut out)?;
        }
        out.write_all(&TERMINATOR)?;
        let mut w = ArchiveWriter {
            out,
            ended: Default::default(),
        };
        // Views have no documents: end them right away (CRC-64 of nothing is 0).
        for e in entries.iter().filter(|e| e.kind == "view") {
            w.eof(&e.db, &e.collection, 0)?;
        }
        Ok(w)
    }

    /// One segment: concatenated documents of one collection (must not be empty).
    pub fn segment(&mut self, db: &str, coll: &str, docs: &[u8]) -> Result<()> {
        if docs.is_empty() {
            return Ok(());
        }
        doc! {"db": db, "collection": coll, "EOF": false, "CRC": 0i64}.to_writer(&mut self.out)?;
        self.out.write_all(docs)?;
        self.out.write_all(&TERMINATOR)?;
        Ok(())
    }

    /// The end of a collection, with the CRC-64 of all its documents.
    pub fn eof(&mut self, db: &str, coll: &str, crc: u64) -> Result<()> {
        if !self.ended.insert((db.to_string(), coll.to_string())) {
            return Ok(());
        }
        doc! {"db": db, "collection": coll, "EOF": true, "CRC": crc as i64}
            .to_writer(&mut self.out)?;
        self.out.write_all(&TERMINATOR)?;
        Ok(())
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// What the body of an archive yields, in stream order.
pub enum Event {
    /// A document of the collection whose segment is open.
    Doc {
        db: String,
        coll: String,
        doc: Vec<u8>,
    },
    /// A collection is complete; `crc` is the value its EOF block declares.
    Eof { db: String, coll: String, crc: u64 },
}

pub struct ArchiveReader<R: Read> {
    input: R,
    pub offset: u64,
    pub header: Header,
    pub entries: Vec<CollectionEntry>,
    open: Option<(String, String)>,
}

fn get_str(d: &Document, k: &str) -> String {
    d.get_str(k).unwrap_or_default().to_string()
}

fn get_int(d: &Document, k: &str) -> i64 {
    match d.get(k) {
        Some(bson::Bson::Int32(v)) => *v as i64,
        Some(bson::Bson::Int64(v)) => *v,
        Some(bson::Bson::Double(v)) => *v as i64,
        _ => 0,
    }
}

impl<R: Read> ArchiveReader<R> {
    /// Reads the magic number, header and prelude.
    pub fn open(mut input: R) -> Result<Self> {
        let mut magic = [0u8; 4];
        input
            .read_exact(&mut magic)
            .context("reading the archive's magic number")?;
        if u32::from_le_bytes(magic) != MAGIC {
            bail!(
                "not a mongodump archive (magic number {:02x?}, expected 6d e2 99 81)",
                magic
            );
        }
        let mut offset = 4u64;
        let header = match read_doc(&mut input, &mut offset)? {
            Next::Doc(d) => Document::from_reader(&d[..]).context("archive header")?,
            _ => bail!("archive has no header document"),
        };
        let header = Header {
            concurrent_collections: get_int(&header, "concurrent_collections") as i32,
            server_version: get_str(&header, "server_version"),
            tool_version: get_str(&header, "tool_version"),
        };
        let mut entries = Vec::new();
        loop {
            match read_doc(&mut input, &mut offset)? {
                Next::Doc(d) => {
                    let m = Document::from_reader(&d[..])
                        .with_context(|| format!("archive prelude at byte offset {offset}"))?;
                    entries.push(CollectionEntry {
                        db: get_str(&m, "db"),
                        collection: get_str(&m, "collection"),
                        metadata: get_str(&m, "metadata"),
                        size: get_int(&m, "size"),
                        kind: get_str(&m, "type"),
                    });
                }
                Next::Terminator => break,
                Next::Eof => bail!("archive ends inside its prelude"),
            }
        }
        Ok(ArchiveReader {
            input,
            offset,
            header,
            entries,
            open: None,
        })
    }

    /// The next document or end-of-collection; `None` at the end of the archive.
    pub fn next_event(&mut self) -> io::Result<Option<Event>> {
        loop {
            let at = self.offset;
            match read_doc(&mut self.input, &mut self.offset)? {
                Next::Eof => {
                    if let Some((db, coll)) = &self.open {
                        return Err(bad(
                            at,
                            &format!("archive ends inside a segment of {db}.{coll}"),
                        ));
                    }
                    return Ok(None);
                }
                Next::Terminator => {
                    if self.open.take().is_none() {
                        return Err(bad(at, "terminator without a namespace header"));
                    }
                }
                Next::Doc(d) => match &self.open {
                    Some((db, coll)) => {
                        return Ok(Some(Event::Doc {
                            db: db.clone(),
                            coll: coll.clone(),
                            doc: d,
                        }));
                    }
                    None => {
                        let h = Document::from_reader(&d[..])
                            .map_err(|e| bad(at, &format!("namespace header: {e}")))?;
                        let db = get_str(&h, "db");
                        let coll = get_str(&h, "collection");
                        if h.get_bool("EOF").unwrap_or(false) {
                            let crc = get_int(&h, "CRC") as u64;
                            match read_doc(&mut self.input, &mut self.offset)? {
                                Next::Terminator => {}
                                _ => return Err(bad(self.offset, "EOF block without terminator")),
                            }
                            return Ok(Some(Event::Eof { db, coll, crc }));
                        }
                        self.open = Some((db, coll));
                    }
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::checksum::Crc64;

    #[test]
    fn writes_what_it_reads_with_interleaved_segments() {
        let header = Header {
            concurrent_collections: 4,
            server_version: "6.0.5".into(),
            tool_version: "mongoctl test".into(),
        };
        let entries = vec![CollectionEntry {
            db: "d".into(),
            collection: "c".into(),
            metadata: "{}".into(),
            size: 10,
            kind: "collection".into(),
        }];
        let mut w = ArchiveWriter::new(Vec::new(), &header, &entries).unwrap();
        let a = bson::to_vec(&doc! {"_id": 1}).unwrap();
        let b = bson::to_vec(&doc! {"_id": 2}).unwrap();
        w.segment("d", "c", &a).unwrap();
        w.segment("d", "e", &b).unwrap();
        let mut crc = Crc64::default();
        crc.update(&a);
        w.eof("d", "c", crc.value()).unwrap();
        let bytes = w.into_inner();
        assert_eq!(&bytes[..4], &[0x6d, 0xe2, 0x99, 0x81]);
        let mut r = ArchiveReader::open(&bytes[..]).unwrap();
        assert_eq!(r.header.server_version, "6.0.5");
        assert_eq!(r.entries[0].kind, "collection");
        assert!(matches!(r.next_event().unwrap(), Some(Event::Doc { coll, .. }) if coll == "c"));
        assert!(matches!(r.next_event().unwrap(), Some(Event::Doc { coll, .. }) if coll == "e"));
        assert!(
            matches!(r.next_event().unwrap(), Some(Event::Eof { crc: c, .. }) if c == crc.value())
        );
        assert!(r.next_event().unwrap().is_none());
    }

    #[test]
    fn oplog_prelude_entry_is_mongodumps() {
        let header = Header {
            concurrent_collections: 1,
            server_version: "6.0.5".into(),
            tool_version: "t".into(),
        };
        let w = ArchiveWriter::new(Vec::new(), &header, &[CollectionEntry::oplog()]).unwrap();
        let bytes = w.into_inner();
        let mut offset = 0;
        let mut input = &bytes[4..];
        read_doc(&mut input, &mut offset).unwrap();
        let Next::Doc(d) = read_doc(&mut input, &mut offset).unwrap() else {
            panic!("no prelude entry")
        };
        assert_eq!(
            Document::from_reader(&d[..]).unwrap(),
            doc! {"db": "", "collection": "oplog", "metadata": "", "size": 0}
        );
        let r = ArchiveReader::open(&bytes[..]).unwrap();
        assert!(r.entries[0].is_oplog());
    }

    #[test]
    fn views_are_ended_after_the_prelude_once() {
        let header = Header {
            concurrent_collections: 1,
            server_version: "6.0.5".into(),
            tool_version: "t".into(),
        };
        let entry = |c: &str, kind: &str| CollectionEntry {
            db: "d".into(),
            collection: c.into(),
            metadata: "{}".into(),
            size: 0,
            kind: kind.into(),
        };
        let entries = vec![entry("c", "collection"), entry("v", "view")];
        let mut w = ArchiveWriter::new(Vec::new(), &header, &entries).unwrap();
        w.eof("d", "v", 0).unwrap();
        w.eof("d", "c", 0).unwrap();
        let bytes = w.into_inner();
        let mut r = ArchiveReader::open(&bytes[..]).unwrap();
        assert!(
            matches!(r.next_event().unwrap(), Some(Event::Eof { coll, crc: 0, .. }) if coll == "v")
        );
        assert!(matches!(r.next_event().unwrap(), Some(Event::Eof { coll, .. }) if coll == "c"));
        assert!(r.next_event().unwrap().is_none());
    }
}
