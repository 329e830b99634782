//! A small, bounded MP4 reader: just enough of the sample tables to pull the
//! H.264 track and the AAC track (packets and decoder config) out of a
//! provider's file or a member's cameo recording.
//!
//! Everything comes from an untrusted download or upload, so every length, count and
//! offset is checked against the file before use, nothing is allocated
//! from a count the file states without a cap, and only a fixed path of
//! boxes is descended (no recursion a file could deepen).

use std::ops::Range;

/// Most samples a track may have: 12 s at 60 fps is 720; this leaves room
/// for long AAC tracks without letting a hostile count allocate gigabytes.
const MAX_SAMPLES: usize = 100_000;

/// Why a file could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("unreadable MP4: {0}")]
pub struct Mp4Error(pub String);

fn bad(msg: impl Into<String>) -> Mp4Error {
    Mp4Error(msg.into())
}

/// The H.264 track of a file, ready to decode.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoTrack {
    /// Coded width and height from the sample entry.
    pub width: u32,
    /// Coded height.
    pub height: u32,
    /// Bytes of each NAL unit's length prefix (1, 2 or 4).
    pub length_size: usize,
    /// Sequence and picture parameter sets from `avcC`.
    pub parameter_sets: Vec<Vec<u8>>,
    /// Each sample's byte range in the file, in decode order.
    pub samples: Vec<Range<usize>>,
    /// Each sample's start time in seconds, in decode order.
    pub times: Vec<f64>,
    /// Track length in seconds (the last sample's end).
    pub duration: f64,
}

/// The AAC sound track of a file, ready to decode.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioTrack {
    /// The `esds` AudioSpecificConfig: the decoder's setup.
    pub config: Vec<u8>,
    /// Each AAC packet's byte range in the file, in decode order.
    pub packets: Vec<Range<usize>>,
    /// Seconds of encoder priming to drop from the start (the edit list's
    /// media time), so the sound lines up with the pictures.
    pub skip: f64,
}

/// What the reader found in a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Movie {
    /// The first H.264 video track.
    pub video: VideoTrack,
    /// The first sound track: `None` when there is none, `Some(Err)` when
    /// it is not AAC or its tables do not read (the video still does).
    pub audio: Option<Result<AudioTrack, Mp4Error>>,
}

/// Reads the first H.264 track of `file`.
pub fn read(file: &[u8]) -> Result<Movie, Mp4Error> {
    let moov = children(file, 0..file.len())?
        .into_iter()
        .find(|b| &b.kind == b"moov")
        .ok_or_else(|| bad("no moov box"))?;
    let mut video = None;
    let mut audio = None;
    for trak in children(file, moov.body)?
        .into_iter()
        .filter(|b| &b.kind == b"trak")
    {
        let mdia = child(file, trak.body.clone(), b"mdia")?;
        let hdlr = &file[child(file, mdia.clone(), b"hdlr")?];
        match hdlr.get(8..12) {
            Some(b"soun") if audio.is_none() => {
                audio = Some(audio_track(file, trak.body, mdia));
            }
            Some(b"vide") if video.is_none() => video = Some(video_track(file, mdia)?),
            _ => {}
        }
    }
    Ok(Movie {
        video: video.ok_or_else(|| bad("no video track"))?,
        audio,
    })
}

/// A track's timescale, sample table box and sample placement.
struct Tables {
    timescale: u32,
    stbl: Range<usize>,
    samples: Vec<Range<usize>>,
    times: Vec<f64>,
    end: f64,
}

fn tables(file: &[u8], mdia: Range<usize>) -> Result<Tables, Mp4Error> {
    let mdhd = Reader::new(&file[child(file, mdia.clone(), b"mdhd")?]);
    // Version 1 has 64-bit times: timescale sits after two 8-byte fields.
    let timescale = if mdhd.u8(0)? == 1 {
        mdhd.u32(20)?
    } else {
        mdhd.u32(12)?
    };
    if timescale == 0 {
        return Err(bad("zero timescale"));
    }
    let minf = child(file, mdia, b"minf")?;
    let stbl = child(file, minf, b"stbl")?;
    let table = |kind: &[u8; 4]| child(file, stbl.clone(), kind).map(|r| Reader::new(&file[r]));
    let sizes = sample_sizes(&table(b"stsz")?)?;
    let offsets = match table(b"stco") {
        Ok(stco) => chunk_offsets(&stco, false)?,
        Err(_) => chunk_offsets(&table(b"co64")?, true)?,
    };
    let samples = place_samples(&table(b"stsc")?, &offsets, &sizes, file.len())?;
    let (times, end) = sample_times(&table(b"stts")?, samples.len(), timescale)?;
    Ok(Tables {
        timescale,
        stbl,
        samples,
        times,
        end,
    })
}

fn video_track(file: &[u8], mdia: Range<usize>) -> Result<VideoTrack, Mp4Error> {
    let Tables {
        stbl,
        samples,
        times,
        end,
        ..
    } = tables(file, mdia)?;
    let (width, height, avcc) = sample_entry(file, child(file, stbl, b"stsd")?)?;
    let (length_size, parameter_sets) = parse_avcc(&avcc)?;
    Ok(VideoTrack {
        width,
        height,
        length_size,
        parameter_sets,
        samples,
        times,
        duration: end,
    })
}

fn audio_track(
    file: &[u8],
    trak: Range<usize>,
    mdia: Range<usize>,
) -> Result<AudioTrack, Mp4Error> {
    let tables = tables(file, mdia)?;
    let entry = first_entry(file, child(file, tables.stbl.clone(), b"stsd")?)?;
    if &entry.kind != b"mp4a" {
        return Err(bad(format!(
            "sound codec {} is not AAC",
            String::from_utf8_lossy(&entry.kind)
        )));
    }
    // AudioSampleEntry: 28 fixed bytes; QuickTime's versions 1 and 2 add 16 / 36.
    let version = Reader::new(&file[entry.body.clone()]).u16(8)?;
    let fixed = entry.body.start
        + match version {
            0 => 28,
            1 => 44,
            2 => 64,
            v => return Err(bad(format!("sound sample entry version {v}"))),
        };
    if fixed > entry.body.end {
        return Err(bad("short mp4a entry"));
    }
    let esds = child(file, fixed..entry.body.end, b"esds")?;
    let config = audio_specific_config(&file[esds])?;
    let skip = priming(file, trak)?.map_or(0.0, |ticks| ticks as f64 / f64::from(tables.timescale));
    Ok(AudioTrack {
        config,
        packets: tables.samples,
        skip,
    })
}

/// The first edit's media time (`edts`/`elst`), in track ticks; `None`
/// without an edit list or for an empty edit.
fn priming(file: &[u8], trak: Range<usize>) -> Result<Option<u64>, Mp4Error> {
    let Ok(edts) = child(file, trak, b"edts") else {
        return Ok(None);
    };
    let elst = Reader::new(&file[child(file, edts, b"elst")?]);
    if elst.u32(4)? == 0 {
        return Ok(None);
    }
    // Version 1: 64-bit duration then 64-bit media time; version 0: 32-bit.
    let media_time = if elst.u8(0)? == 1 {
        elst.u64(16)? as i64
    } else {
        i64::from(elst.u32(12)? as i32)
    };
    Ok(u64::try_from(media_time).ok())
}

/// The AudioSpecificConfig inside `esds`: ES_Descriptor (tag 3) >
/// DecoderConfigDescriptor (4) > DecoderSpecificInfo (5).
fn audio_specific_config(esds: &[u8]) -> Result<Vec<u8>, Mp4Error> {
    // Full-box header (4), then the ES_Descriptor.
    let es = descriptor(esds, 4, 3)?;
    let r = Reader::new(es);
    let flags = r.u8(2)?;
    let mut at = 3;
    if flags & 0x80 != 0 {
        at += 2; // dependsOn_ES_ID
    }
    if flags & 0x40 != 0 {
        at += 1 + usize::from(r.u8(at)?); // URL
    }
    if flags & 0x20 != 0 {
        at += 2; // OCR_ES_Id
    }
    let config = descriptor(es, at, 4)?;
    // MPEG-4 audio, or MPEG-2 AAC (Main, LC, SSR).
    let object_type = Reader::new(config).u8(0)?;
    if !matches!(object_type, 0x40 | 0x66..=0x68) {
        return Err(bad(format!(
            "sound object type {object_type:#x} is not AAC"
        )));
    }
    // objectType, streamType, bufferSize (3), max and average bit rate (4 + 4).
    let specific = descriptor(config, 13, 5)?;
    if specific.len() < 2 {
        return Err(bad("short AudioSpecificConfig"));
    }
    Ok(specific.to_vec())
}

/// The payload of the descriptor with `tag` at `at` in `data`.
fn descriptor(data: &[u8], at: usize, tag: u8) -> Result<&[u8], Mp4Error> {
    let r = Reader::new(data);
    if r.u8(at)? != tag {
        return Err(bad(format!("esds lacks descriptor {tag}")));
    }
    // The length: up to four bytes of 7 bits, high bit meaning "more".
    let (mut len, mut pos) = (0usize, at + 1);
    for _ in 0..4 {
        let b = r.u8(pos)?;
        pos += 1;
        len = (len << 7) | usize::from(b & 0x7f);
        if b & 0x80 == 0 {
            break;
        }
    }
    r.bytes(pos, len)
}

/// The first sample entry of `stsd`, as a box.
fn first_entry(file: &[u8], stsd: Range<usize>) -> Result<Mp4Box, Mp4Error> {
    if Reader::new(&file[stsd.clone()]).u32(4)? == 0 {
        return Err(bad("empty stsd"));
    }
    // Full-box header (4) + entry count (4), then the first entry as a box.
    children(file, (stsd.start + 8).min(stsd.end)..stsd.end)?
        .into_iter()
        .next()
        .ok_or_else(|| bad("no sample entry"))
}

/// The avc1 entry's size and its `avcC` payload.
fn sample_entry(file: &[u8], stsd: Range<usize>) -> Result<(u32, u32, Vec<u8>), Mp4Error> {
    let entry = first_entry(file, stsd)?;
    if !matches!(&entry.kind, b"avc1" | b"avc3") {
        return Err(bad(format!(
            "video codec {} is not H.264",
            String::from_utf8_lossy(&entry.kind)
        )));
    }
    let r = Reader::new(&file[entry.body.clone()]);
    let (width, height) = (u32::from(r.u16(24)?), u32::from(r.u16(26)?));
    // VisualSampleEntry's fixed fields take 78 bytes; child boxes follow.
    let fixed = entry.body.start + 78;
    if fixed > entry.body.end {
        return Err(bad("short avc1 entry"));
    }
    let avcc = child(file, fixed..entry.body.end, b"avcC")?;
    Ok((width, height, file[avcc].to_vec()))
}

/// NAL length size and SPS/PPS from an `AVCDecoderConfigurationRecord`.
fn parse_avcc(avcc: &[u8]) -> Result<(usize, Vec<Vec<u8>>), Mp4Error> {
    let r = Reader::new(avcc);
    let length_size = usize::from(r.u8(4)? & 3) + 1;
    if length_size == 3 {
        return Err(bad("3-byte NAL lengths"));
    }
    let mut at = 5;
    let mut sets = Vec::new();
    for mask in [0x1f, 0xff] {
        let count = r.u8(at)? & mask;
        at += 1;
        for _ in 0..count {
            let len = usize::from(r.u16(at)?);
            sets.push(r.bytes(at + 2, len)?.to_vec());
            at += 2 + len;
        }
    }
    if sets.is_empty() {
        return Err(bad("avcC has no parameter sets"));
    }
    Ok((length_size, sets))
}

fn sample_sizes(stsz: &Reader<'_>) -> Result<Vec<usize>, Mp4Error> {
    let fixed = stsz.u32(4)? as usize;
    let count = capped(stsz.u32(8)?)?;
    if fixed != 0 {
        return Ok(vec![fixed; count]);
    }
    (0..count)
        .map(|i| Ok(stsz.u32(12 + 4 * i)? as usize))
        .collect()
}

fn chunk_offsets(table: &Reader<'_>, wide: bool) -> Result<Vec<usize>, Mp4Error> {
    let count = capped(table.u32(4)?)?;
    (0..count)
        .map(|i| {
            let offset = if wide {
                table.u64(8 + 8 * i)?
            } else {
                u64::from(table.u32(8 + 4 * i)?)
            };
            usize::try_from(offset).map_err(|_| bad("chunk offset overflows"))
        })
        .collect()
}

/// Each sample's byte range, from the sample-to-chunk runs.
fn place_samples(
    stsc: &Reader<'_>,
    offsets: &[usize],
    sizes: &[usize],
    file_len: usize,
) -> Result<Vec<Range<usize>>, Mp4Error> {
    let runs = capped(stsc.u32(4)?)?;
    let mut samples = Vec::with_capacity(sizes.len());
    let mut sizes_left = sizes.iter();
    for run in 0..runs {
        let first = stsc.u32(8 + 12 * run)? as usize;
        let per_chunk = stsc.u32(12 + 12 * run)? as usize;
        let next = if run + 1 < runs {
            stsc.u32(8 + 12 * (run + 1))? as usize
        } else {
            offsets.len() + 1
        };
        if first == 0 || next < first || next > offsets.len() + 1 {
            return Err(bad("inconsistent sample-to-chunk table"));
        }
        for &chunk in &offsets[first - 1..next - 1] {
            let mut at = chunk;
            for _ in 0..per_chunk {
                let Some(&size) = sizes_left.next() else {
                    break;
                };
                let end = at
                    .checked_add(size)
                    .filter(|&end| end <= file_len)
                    .ok_or_else(|| bad("sample lies outside the file"))?;
                samples.push(at..end);
                at = end;
            }
        }
    }
    if samples.len() != sizes.len() {
        return Err(bad("chunks hold fewer samples than stsz lists"));
    }
    if samples.is_empty() {
        return Err(bad("the track has no samples"));
    }
    Ok(samples)
}

/// Start times (seconds) of `count` samples, and the track's end.
fn sample_times(
    stts: &Reader<'_>,
    count: usize,
    timescale: u32,
) -> Result<(Vec<f64>, f64), Mp4Error> {
    let runs = capped(stts.u32(4)?)?;
    let mut times = Vec::with_capacity(count);
    let mut clock = 0u64;
    for run in 0..runs {
        let n = stts.u32(8 + 8 * run)?;
        let delta = u64::from(stts.u32(12 + 8 * run)?);
        for _ in 0..n {
            if times.len() == count {
                break;
            }
            times.push(clock as f64 / f64::from(timescale));
            clock = clock.saturating_add(delta);
        }
    }
    if times.len() != count {
        return Err(bad("time-to-sample table is shorter than the track"));
    }
    Ok((times, clock as f64 / f64::from(timescale)))
}

fn capped(count: u32) -> Result<usize, Mp4Error> {
    let count = count as usize;
    if count > MAX_SAMPLES {
        return Err(bad(format!("table of {count} entries is too long")));
    }
    Ok(count)
}

/// One box: its four-character type and the byte range of its payload.
struct Mp4Box {
    kind: [u8; 4],
    body: Range<usize>,
}

/// The boxes laid end to end in `range`.
fn children(file: &[u8], range: Range<usize>) -> Result<Vec<Mp4Box>, Mp4Error> {
    let mut boxes = Vec::new();
    let mut at = range.start;
    while at + 8 <= range.end {
        let r = Reader::new(&file[at..range.end]);
        let size32 = r.u32(0)?;
        let kind: [u8; 4] = r.bytes(4, 4)?.try_into().expect("four bytes");
        let (header, size) = match size32 {
            0 => (8, range.end - at),
            1 => {
                let size = usize::try_from(r.u64(8)?).map_err(|_| bad("box too large"))?;
                (16, size)
            }
            n => (8, n as usize),
        };
        let end = at
            .checked_add(size)
            .filter(|&end| size >= header && end <= range.end)
            .ok_or_else(|| {
                bad(format!(
                    "box {} overruns its parent",
                    String::from_utf8_lossy(&kind)
                ))
            })?;
        boxes.push(Mp4Box {
            kind,
            body: at + header..end,
        });
        if boxes.len() > MAX_SAMPLES {
            return Err(bad("too many boxes"));
        }
        at = end;
    }
    Ok(boxes)
}

/// The payload of the first `kind` box directly inside `range`.
fn child(file: &[u8], range: Range<usize>, kind: &[u8; 4]) -> Result<Range<usize>, Mp4Error> {
    children(file, range)?
        .into_iter()
        .find(|b| &b.kind == kind)
        .map(|b| b.body)
        .ok_or_else(|| bad(format!("no {} box", String::from_utf8_lossy(kind))))
}

/// Bounds-checked big-endian reads.
struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    fn bytes(&self, at: usize, len: usize) -> Result<&'a [u8], Mp4Error> {
        at.checked_add(len)
            .and_then(|end| self.data.get(at..end))
            .ok_or_else(|| bad("truncated box"))
    }

    fn u8(&self, at: usize) -> Result<u8, Mp4Error> {
        Ok(self.bytes(at, 1)?[0])
    }

    fn u16(&self, at: usize) -> Result<u16, Mp4Error> {
        Ok(u16::from_be_bytes(
            self.bytes(at, 2)?.try_into().expect("2"),
        ))
    }

    fn u32(&self, at: usize) -> Result<u32, Mp4Error> {
        Ok(u32::from_be_bytes(
            self.bytes(at, 4)?.try_into().expect("4"),
        ))
    }

    fn u64(&self, at: usize) -> Result<u64, Mp4Error> {
        Ok(u64::from_be_bytes(
            self.bytes(at, 8)?.try_into().expect("8"),
        ))
    }
}

/// One sample in Annex B form (start codes instead of length prefixes), with
/// the parameter sets in front when `with_sets` (the first sample).
pub fn annex_b(track: &VideoTrack, sample: &[u8], with_sets: bool) -> Result<Vec<u8>, Mp4Error> {
    const START: [u8; 4] = [0, 0, 0, 1];
    let mut out = Vec::with_capacity(sample.len() + 64);
    if with_sets {
        for set in &track.parameter_sets {
            out.extend_from_slice(&START);
            out.extend_from_slice(set);
        }
    }
    let mut at = 0;
    while at < sample.len() {
        let prefix = sample
            .get(at..at + track.length_size)
            .ok_or_else(|| bad("truncated NAL length"))?;
        let len = prefix
            .iter()
            .fold(0usize, |n, &b| (n << 8) | usize::from(b));
        let nal = at
            .checked_add(track.length_size)
            .and_then(|s| sample.get(s..s.checked_add(len)?))
            .ok_or_else(|| bad("NAL unit overruns its sample"))?;
        out.extend_from_slice(&START);
        out.extend_from_slice(nal);
        at += track.length_size + len;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn garbage_and_truncation_are_errors_not_panics() {
        assert!(read(b"").is_err());
        assert!(read(&[0xff; 64]).is_err());
        // A box claiming more bytes than the file has.
        let mut file = boxed(b"moov", &boxed(b"trak", b"xxxx"));
        file[3] = 200;
        assert!(read(&file).is_err());
        assert!(read(&boxed(b"ftyp", b"isom")).is_err());
        // Every prefix of a plausible file fails cleanly.
        let moov = boxed(b"moov", &boxed(b"trak", &boxed(b"mdia", &[0; 40])));
        for cut in 0..moov.len() {
            assert!(read(&moov[..cut]).is_err());
        }
    }

    #[test]
    fn the_aac_config_is_found_in_esds() {
        let specific = [0x05, 0x02, 0x12, 0x10];
        let mut config = vec![0x04, 0x80, 0x80, 0x80, 17, 0x40, 0x15];
        config.extend_from_slice(&[0; 11]);
        config.extend_from_slice(&specific);
        // ES_Descriptor with a dependsOn id (flag 0x80) before its config.
        let mut es = vec![0x03, 3 + 2 + config.len() as u8 + 3, 0, 1, 0x80, 0, 7];
        es.extend_from_slice(&config);
        es.extend_from_slice(&[0x06, 0x01, 0x02]);
        let mut esds = vec![0, 0, 0, 0];
        esds.extend_from_slice(&es);
        assert_eq!(audio_specific_config(&esds).unwrap(), [0x12, 0x10]);
        // MP3 (object type 0x6b) is not AAC; every cut is an error.
        let mut mp3 = esds.clone();
        mp3[16] = 0x6b;
        assert!(audio_specific_config(&mp3).is_err());
        for cut in 0..esds.len() {
            assert!(audio_specific_config(&esds[..cut]).is_err());
        }
    }

    #[test]
    fn length_prefixed_nals_become_annex_b() {
        let track = VideoTrack {
            width: 2,
            height: 2,
            length_size: 4,
            parameter_sets: vec![vec![0x67, 1], vec![0x68, 2]],
            samples: Vec::new(),
            times: Vec::new(),
            duration: 0.0,
        };
        let sample = [0, 0, 0, 2, 0x65, 9, 0, 0, 0, 1, 0x41];
        let out = annex_b(&track, &sample, true).unwrap();
        assert_eq!(
            out,
            [
                0, 0, 0, 1, 0x67, 1, 0, 0, 0, 1, 0x68, 2, 0, 0, 0, 1, 0x65, 9, 0, 0, 0, 1, 0x41
            ]
        );
        assert!(annex_b(&track, &[0, 0, 0, 9, 1], false).is_err());
        assert!(annex_b(&track, &[0, 0], false).is_err());
    }
}
