//! Exact decimal arithmetic for `$jsonSchema` numbers: int, long, double and decimal compare by
//! value as mongod compares them, and `multipleOf` divides as the server does (Decimal128).

use std::cmp::Ordering;

use bson::Bson;

/// An exact decimal value `0.DIGITS × 10^exp`, so that int, long, double and decimal compare by
/// value as mongod compares them: a double is never rounded to meet a decimal.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Exact {
    NaN,
    Infinite {
        negative: bool,
    },
    /// `digits` are 0..=9 without leading or trailing zeros; zero has no digits and is positive.
    Finite {
        negative: bool,
        digits: Vec<u8>,
        exp: i64,
    },
}

impl Exact {
    pub(super) fn of(n: &Bson) -> Exact {
        match n {
            Bson::Int32(i) => Exact::integer(i64::from(*i)),
            Bson::Int64(i) => Exact::integer(*i),
            Bson::Double(f) => Exact::double(*f),
            Bson::Decimal128(d) => Exact::decimal(d),
            _ => Exact::NaN,
        }
    }

    /// `coefficient × 10^exp10`, normalised.
    fn finite(negative: bool, coefficient: &[u8], exp10: i64) -> Exact {
        let start = coefficient
            .iter()
            .position(|&d| d != 0)
            .unwrap_or(coefficient.len());
        let significant = &coefficient[start..];
        let end = significant
            .iter()
            .rposition(|&d| d != 0)
            .map_or(0, |p| p + 1);
        let exp = exp10 + significant.len() as i64;
        let digits = significant[..end].to_vec();
        let negative = negative && !digits.is_empty();
        Exact::Finite {
            negative,
            exp: if digits.is_empty() { 0 } else { exp },
            digits,
        }
    }

    fn integer(i: i64) -> Exact {
        Exact::finite(i < 0, &decimal_digits(u128::from(i.unsigned_abs())), 0)
    }

    fn double(f: f64) -> Exact {
        if f.is_nan() {
            return Exact::NaN;
        }
        if f.is_infinite() {
            return Exact::Infinite { negative: f < 0.0 };
        }
        // 800 fractional digits in scientific notation exceed the 767 significant digits a
        // double can need, so this is the exact value.
        let text = format!("{:.800e}", f.abs());
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let digits: Vec<u8> = mantissa
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect();
        let exponent: i64 = exponent.parse().unwrap_or(0);
        Exact::finite(f < 0.0, &digits, exponent + 1 - digits.len() as i64)
    }

    /// Decodes the BSON Decimal128 layout (IEEE 754-2008 BID); non-canonical coefficients read
    /// as zero, as the specification requires.
    fn decimal(d: &bson::Decimal128) -> Exact {
        const MAX_COEFFICIENT: u128 = 10u128.pow(34) - 1;
        let bits = u128::from_le_bytes(d.bytes());
        let negative = bits >> 127 == 1;
        match (bits >> 122) & 0x1f {
            0x1f => return Exact::NaN,
            0x1e => return Exact::Infinite { negative },
            _ => {}
        }
        let (exponent, coefficient) = if (bits >> 125) & 0b11 == 0b11 {
            ((bits >> 111) & 0x3fff, 0)
        } else {
            let c = bits & ((1u128 << 113) - 1);
            (
                (bits >> 113) & 0x3fff,
                if c > MAX_COEFFICIENT { 0 } else { c },
            )
        };
        Exact::finite(
            negative,
            &decimal_digits(coefficient),
            exponent as i64 - 6176,
        )
    }

    /// The value as a non-negative whole number that fits an i64, if it is one.
    pub(super) fn to_u63(&self) -> Option<u64> {
        match self {
            Exact::Finite {
                negative: false,
                digits,
                exp,
            } if *exp >= digits.len() as i64 && *exp <= 19 => {
                let mut n: u64 = 0;
                for k in 0..*exp as usize {
                    n = n
                        .checked_mul(10)?
                        .checked_add(u64::from(digits.get(k).copied().unwrap_or(0)))?;
                }
                (n <= i64::MAX as u64).then_some(n)
            }
            _ => None,
        }
    }

    /// Rounds to `n` significant digits, ties to even (Decimal128's rounding).
    fn round_to(&self, n: usize) -> Exact {
        let Exact::Finite {
            negative,
            digits,
            exp,
        } = self
        else {
            return self.clone();
        };
        if digits.len() <= n {
            return self.clone();
        }
        let mut kept = digits[..n].to_vec();
        let rest = &digits[n..];
        let round_up = match rest[0].cmp(&5) {
            Ordering::Greater => true,
            Ordering::Less => false,
            Ordering::Equal => {
                rest[1..].iter().any(|&d| d != 0) || kept.last().is_some_and(|d| d % 2 == 1)
            }
        };
        let mut exp = *exp;
        if round_up {
            let mut k = kept.len();
            loop {
                if k == 0 {
                    kept.insert(0, 1);
                    exp += 1;
                    break;
                }
                k -= 1;
                if kept[k] == 9 {
                    kept[k] = 0;
                } else {
                    kept[k] += 1;
                    break;
                }
            }
        }
        Exact::finite(*negative, &kept, exp - kept.len() as i64)
    }

    /// Coefficient and exponent (`c × 10^e`) of a value of at most 38 significant digits.
    fn coefficient(&self) -> Option<(u128, i64)> {
        let Exact::Finite { digits, exp, .. } = self else {
            return None;
        };
        let c = digits.iter().try_fold(0u128, |acc, &d| {
            acc.checked_mul(10)?.checked_add(u128::from(d))
        })?;
        Some((c, exp - digits.len() as i64))
    }

    fn is_zero(&self) -> bool {
        matches!(self, Exact::Finite { digits, .. } if digits.is_empty())
    }

    /// Total order for numbers, except that NaN only equals NaN and compares with nothing else.
    fn compare(&self, other: &Exact) -> Option<Ordering> {
        let rank = |e: &Exact| match e {
            Exact::Infinite { negative: true } => -2,
            Exact::Finite { negative: true, .. } => -1,
            Exact::Finite { digits, .. } if digits.is_empty() => 0,
            Exact::Finite { .. } => 1,
            Exact::Infinite { negative: false } => 2,
            Exact::NaN => 3,
        };
        match (self, other) {
            (Exact::NaN, Exact::NaN) => Some(Ordering::Equal),
            (Exact::NaN, _) | (_, Exact::NaN) => None,
            (
                Exact::Finite {
                    negative,
                    digits: a,
                    exp: ea,
                },
                Exact::Finite {
                    digits: b, exp: eb, ..
                },
            ) if rank(self) == rank(other) && !a.is_empty() => {
                let magnitude = ea.cmp(eb).then_with(|| a.cmp(b));
                Some(if *negative {
                    magnitude.reverse()
                } else {
                    magnitude
                })
            }
            _ => Some(rank(self).cmp(&rank(other))),
        }
    }
}

fn decimal_digits(mut n: u128) -> Vec<u8> {
    let mut digits = Vec::new();
    while n > 0 {
        digits.push((n % 10) as u8);
        n /= 10;
    }
    digits.reverse();
    digits
}

/// Compares two BSON numbers by value; None when exactly one is NaN (NaN equals only NaN).
pub(super) fn compare_numbers(a: &Bson, b: &Bson) -> Option<Ordering> {
    match (a, b) {
        (Bson::Int32(x), Bson::Int32(y)) => Some(x.cmp(y)),
        (Bson::Int64(x), Bson::Int64(y)) => Some(x.cmp(y)),
        (Bson::Double(x), Bson::Double(y)) if x.is_nan() && y.is_nan() => Some(Ordering::Equal),
        (Bson::Double(x), Bson::Double(y)) => x.partial_cmp(y),
        _ => Exact::of(a).compare(&Exact::of(b)),
    }
}

/// The value mongod divides in `multipleOf`: Decimal128, where a double keeps 15 significant
/// digits (rounded to 34 first, as the conversion from binary does).
fn as_decimal128(n: &Bson) -> Exact {
    match n {
        Bson::Double(_) => Exact::of(n).round_to(34).round_to(15),
        _ => Exact::of(n),
    }
}

/// `multipleOf` as mongod evaluates it: the Decimal128 remainder must be exactly zero, and NaN or
/// infinite values never qualify.
pub(super) fn is_multiple_of(value: &Bson, divisor: &Bson) -> bool {
    let (x, d) = (as_decimal128(value), as_decimal128(divisor));
    match (&x, &d) {
        (Exact::Finite { .. }, Exact::Infinite { .. }) => x.is_zero(),
        (Exact::Finite { .. }, Exact::Finite { .. }) if d.is_zero() => false,
        (Exact::Finite { .. }, Exact::Finite { .. }) if x.is_zero() => true,
        (Exact::Finite { .. }, Exact::Finite { .. }) => {
            let (Some((cx, ex)), Some((cd, ed))) = (x.coefficient(), d.coefficient()) else {
                return false;
            };
            if ex >= ed {
                // cx × 10^(ex-ed) mod cd, one power of ten at a time (cd < 10^34, so r × 10 fits).
                let mut r = cx % cd;
                for _ in 0..(ex - ed) {
                    if r == 0 {
                        break;
                    }
                    r = r * 10 % cd;
                }
                r == 0
            } else {
                u32::try_from(ed - ex)
                    .ok()
                    .and_then(|k| 10u128.checked_pow(k))
                    .and_then(|scale| cd.checked_mul(scale))
                    .is_some_and(|divisor| cx % divisor == 0)
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Bson {
        Bson::Decimal128(s.parse().unwrap())
    }

    #[test]
    fn numbers_compare_exactly_across_types() {
        let cmp = |a: &Bson, b: &Bson| compare_numbers(a, b);
        assert_eq!(
            cmp(&Bson::Int32(1), &Bson::Double(1.0)),
            Some(Ordering::Equal)
        );
        assert_eq!(
            cmp(
                &Bson::Int64(9_007_199_254_740_993),
                &Bson::Double(9_007_199_254_740_992.0)
            ),
            Some(Ordering::Greater)
        );
        assert_eq!(cmp(&dec("0.1"), &Bson::Double(0.1)), Some(Ordering::Less));
        assert_eq!(
            cmp(
                &dec("0.1000000000000000055511151231257827"),
                &Bson::Double(0.1)
            ),
            Some(Ordering::Less)
        );
        assert_eq!(cmp(&dec("-0"), &Bson::Int32(0)), Some(Ordering::Equal));
        assert_eq!(cmp(&dec("1.50"), &dec("15E-1")), Some(Ordering::Equal));
        assert_eq!(
            cmp(&dec("-Infinity"), &Bson::Double(f64::MIN)),
            Some(Ordering::Less)
        );
        assert_eq!(
            cmp(&Bson::Double(f64::NAN), &dec("NaN")),
            Some(Ordering::Equal)
        );
        assert_eq!(cmp(&Bson::Double(f64::NAN), &Bson::Int32(1)), None);
    }

    #[test]
    fn multiple_of_uses_decimal_arithmetic() {
        let m = |x: Bson, d: Bson| is_multiple_of(&x, &d);
        assert!(m(Bson::Double(0.3), Bson::Double(0.1)));
        assert!(m(Bson::Double(0.1 + 0.2), Bson::Double(0.3)));
        assert!(!m(Bson::Double(1.005), Bson::Double(0.01)));
        assert!(m(Bson::Double(1e20), Bson::Int32(5)) && !m(Bson::Double(1e20), Bson::Int32(3)));
        assert!(m(dec("7.5"), Bson::Double(2.5)) && !m(Bson::Int32(6), Bson::Double(2.5)));
        assert!(m(Bson::Int64(-9), Bson::Int32(3)) && m(Bson::Int32(0), Bson::Int32(3)));
        assert!(
            !m(Bson::Double(f64::INFINITY), Bson::Int32(3))
                && !m(Bson::Double(f64::NAN), Bson::Int32(3))
        );
        assert!(m(Bson::Int32(3), dec("1E-30")) && !m(dec("1E-30"), Bson::Int32(3)));
    }
}
