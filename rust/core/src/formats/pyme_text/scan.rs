//! The reader's byte-level pieces: finding tabs and newlines 64 bytes at a time, parsing the
//! time and line fields by hand, short-string equality and the interning hasher.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A small fast hasher for interning (FxHash-style): the keys are short byte strings we own.
#[derive(Default)]
pub(super) struct FxHasher(u64);
const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(SEED);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(SEED);
        }
        self.0 = h;
    }
    #[inline]
    fn write_u32(&mut self, v: u32) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(v)).wrapping_mul(SEED);
    }
    #[inline]
    fn write_usize(&mut self, v: usize) {
        self.0 = (self.0.rotate_left(5) ^ v as u64).wrapping_mul(SEED);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}
pub(super) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Turns `\t`, `\n`, `\r` escapes back into the characters (other backslashes stay).
pub(super) fn unescape(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    if !s.contains('\\') {
        return s.into_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.peek() {
                Some('t') => {
                    out.push('\t');
                    chars.next();
                }
                Some('n') => {
                    out.push('\n');
                    chars.next();
                }
                Some('r') => {
                    out.push('\r');
                    chars.next();
                }
                _ => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Parses decimal seconds into ns (digits after the 9th decimal are ignored).
#[inline]
pub(super) fn parse_seconds(f: &[u8]) -> Option<u64> {
    // Fast path for what `%f` writes: up to 10 integer digits, '.', 6 decimals.
    let n = f.len();
    if (8..=17).contains(&n) && f[n - 7] == b'.' {
        let mut ok = true;
        let mut secs = 0u64;
        for &b in &f[..n - 7] {
            let d = b.wrapping_sub(b'0');
            ok &= d < 10;
            secs = secs * 10 + u64::from(d);
        }
        let mut us = 0u64;
        for &b in &f[n - 6..] {
            let d = b.wrapping_sub(b'0');
            ok &= d < 10;
            us = us * 10 + u64::from(d);
        }
        if ok {
            return Some(secs * 1_000_000_000 + us * 1000);
        }
    }
    parse_seconds_any(f)
}

/// Any decimal seconds: digits, optionally '.' and digits.
#[inline(never)]
pub(super) fn parse_seconds_any(f: &[u8]) -> Option<u64> {
    const POW10: [u64; 10] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000];
    let mut secs: u64 = 0;
    let mut i = 0;
    while i < f.len() && f[i].is_ascii_digit() {
        if i >= 18 {
            return None; // above 10^18 s
        }
        secs = secs * 10 + u64::from(f[i] - b'0');
        i += 1;
    }
    let int_digits = i;
    let mut frac: u64 = 0;
    let mut frac_digits = 0usize;
    if i < f.len() && f[i] == b'.' {
        i += 1;
        while i < f.len() && f[i].is_ascii_digit() {
            if frac_digits < 9 {
                frac = frac * 10 + u64::from(f[i] - b'0');
            }
            frac_digits += 1;
            i += 1;
        }
    }
    if i != f.len() || int_digits + frac_digits == 0 {
        return None;
    }
    secs.checked_mul(1_000_000_000)?.checked_add(frac * POW10[9 - frac_digits.min(9)])
}

#[inline]
pub(super) fn parse_u32(f: &[u8]) -> Option<u32> {
    if f.is_empty() || f.len() > 10 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in f {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u64::from(b - b'0');
    }
    u32::try_from(v).ok()
}

pub(super) fn show(field: &[u8]) -> String {
    let s = String::from_utf8_lossy(&field[..field.len().min(40)]).into_owned();
    if field.len() > 40 {
        format!("{s:?}...")
    } else {
        format!("{s:?}")
    }
}

/// Bit j set <=> byte j of the 64-byte block is a tab or a newline.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
pub(super) fn block_mask(c: &[u8; 64]) -> u64 {
    // SAFETY: this is compiled only when SSE2 is enabled for the target (it is part of the
    // x86_64 baseline), so the CPU running it has SSE2. The function reads only through `c`.
    unsafe { block_mask_sse2(c) }
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[target_feature(enable = "sse2")]
fn block_mask_sse2(c: &[u8; 64]) -> u64 {
    use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8, _mm_set_epi64x};
    let word = |k: usize| i64::from_le_bytes(c[k..k + 8].try_into().unwrap_or_default());
    let tab = _mm_set1_epi8(b'\t' as i8);
    let nl = _mm_set1_epi8(b'\n' as i8);
    let mut m = 0u64;
    for k in 0..4 {
        let v = _mm_set_epi64x(word(16 * k + 8), word(16 * k));
        let eq = _mm_or_si128(_mm_cmpeq_epi8(v, tab), _mm_cmpeq_epi8(v, nl));
        m |= u64::from(_mm_movemask_epi8(eq) as u32 & 0xffff) << (16 * k);
    }
    m
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline(always)]
pub(super) fn block_mask(c: &[u8; 64]) -> u64 {
    block_mask_swar(c)
}

/// Portable version: 8 bytes at a time (SWAR).
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
#[inline(always)]
pub(super) fn block_mask_swar(c: &[u8; 64]) -> u64 {
    const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const TABS: u64 = 0x0909_0909_0909_0909;
    const NLS: u64 = 0x0a0a_0a0a_0a0a_0a0a;
    // Exact zero-byte detection: 0x80 in each zero byte of x.
    let zero = |x: u64| !((((x & LO7) + LO7) | x) | LO7);
    let mut m = 0u64;
    for k in 0..8 {
        let v = u64::from_le_bytes(c[8 * k..8 * k + 8].try_into().unwrap_or_default());
        let hi = zero(v ^ TABS) | zero(v ^ NLS);
        // Gather the 8 high bits into one byte.
        let bits = ((hi >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56;
        m |= bits << (8 * k);
    }
    m
}

/// Positions of tabs and newlines in a buffer, 64 bytes at a time.
pub(super) struct Separators<'a> {
    b: &'a [u8],
    next_block: usize,
    block_start: usize,
    mask: u64,
}

impl<'a> Separators<'a> {
    pub(super) fn new(b: &'a [u8], from: usize) -> Self {
        Separators { b, next_block: from, block_start: from, mask: 0 }
    }
}

impl Iterator for Separators<'_> {
    type Item = usize;
    #[inline]
    fn next(&mut self) -> Option<usize> {
        loop {
            if self.mask != 0 {
                let k = self.mask.trailing_zeros() as usize;
                self.mask &= self.mask - 1;
                return Some(self.block_start + k);
            }
            let i = self.next_block;
            if i >= self.b.len() {
                return None;
            }
            self.mask = match self.b.get(i..i + 64).and_then(|s| <&[u8; 64]>::try_from(s).ok()) {
                Some(block) => block_mask(block),
                None => {
                    let mut block = [0u8; 64];
                    let n = self.b.len() - i;
                    block[..n].copy_from_slice(&self.b[i..]);
                    block_mask(&block)
                }
            };
            self.block_start = i;
            self.next_block = i + 64;
        }
    }
}

/// Byte-slice equality for short strings, 8 bytes at a time, inlined (no libc call per line).
#[inline(always)]
pub(super) fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let word = |c: &[u8]| {
        let mut w = [0u8; 8];
        w[..c.len()].copy_from_slice(c);
        u64::from_le_bytes(w)
    };
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        if word(x) != word(y) {
            return false;
        }
    }
    let (ra, rb) = (ca.remainder(), cb.remainder());
    ra.iter().zip(rb).all(|(x, y)| x == y)
}
