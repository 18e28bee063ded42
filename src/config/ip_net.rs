//! The IP allow-list: [`IpNet`], an address and a prefix length, how one is
//! written and read (`10.0.0.0/8`, `[::1]`), and how a client address is
//! matched against it.
//!
//! A network never holds host bits below its prefix (they are cleared when it
//! is built), and a client's IPv4-mapped IPv6 address is matched as the IPv4
//! address it carries, so one allow-list serves IPv4 and dual-stack listeners.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An IP network: an address and a prefix length (`10.0.0.0/8`, `::1/128`).
///
/// Host bits below the prefix are cleared, as `ip route` does. A client
/// connecting over IPv6 with an IPv4-mapped address (`::ffff:10.1.2.3`, what a
/// dual-stack `::` listener sees for IPv4 clients) is matched as the IPv4
/// address it carries.
///
/// ```
/// use nanometrics::config::IpNet;
/// let net: IpNet = "10.1.2.3/8".parse().unwrap();
/// assert_eq!(net.to_string(), "10.0.0.0/8");
/// assert!(net.contains("10.200.0.1".parse().unwrap()));
/// assert!(net.contains("::ffff:10.9.9.9".parse().unwrap()));
/// assert!(!net.contains("11.0.0.1".parse().unwrap()));
/// let one: IpNet = "::1".parse().unwrap();
/// assert_eq!(one.prefix(), 128);
/// assert!("10.0.0.0/33".parse::<IpNet>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// The network of `addr` with `prefix` leading bits; `None` if `prefix`
    /// exceeds 32 (IPv4) or 128 (IPv6). An IPv4-mapped IPv6 network of prefix
    /// 96 or more is stored as the IPv4 network it denotes.
    pub fn new(addr: IpAddr, prefix: u8) -> Option<IpNet> {
        let (addr, prefix) = match addr {
            IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
                Some(v4) => (IpAddr::V4(v4), prefix - 96),
                None => (addr, prefix),
            },
            _ => (addr, prefix),
        };
        let addr = match addr {
            IpAddr::V4(a) if prefix <= 32 => {
                IpAddr::V4(Ipv4Addr::from_bits(a.to_bits() & mask32(prefix)))
            }
            IpAddr::V6(a) if prefix <= 128 => {
                IpAddr::V6(Ipv6Addr::from_bits(a.to_bits() & mask128(prefix)))
            }
            _ => return None,
        };
        Some(IpNet { addr, prefix })
    }

    /// The network address (host bits cleared).
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` lies in this network (IPv4-mapped IPv6 addresses count as
    /// IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                ip.to_bits() & mask32(self.prefix) == net.to_bits()
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                ip.to_bits() & mask128(self.prefix) == net.to_bits()
            }
            _ => false,
        }
    }
}

/// `ip`, with an IPv4-mapped IPv6 address turned into its IPv4 address.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(prefix.min(32)))
        .unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(prefix.min(128)))
        .unwrap_or(0)
}

/// Why an [`IpNet`] did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpNetParseError(&'static str);

impl fmt::Display for IpNetParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for IpNetParseError {}

impl FromStr for IpNet {
    type Err = IpNetParseError;

    /// `ADDR` (a single host) or `ADDR/PREFIX`; IPv6 addresses may be bracketed.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr = parse_ip(addr).ok_or(IpNetParseError(
            "expected an IP address or CIDR range (10.0.0.0/8, ::1, fd00::/8)",
        ))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            // `u8::from_str` accepts a leading `+`; a CIDR prefix never has one.
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max && !p.starts_with('+') => n,
                _ => {
                    return Err(IpNetParseError(if addr.is_ipv4() {
                        "the prefix length of an IPv4 range must be 0 to 32"
                    } else {
                        "the prefix length of an IPv6 range must be 0 to 128"
                    }))
                }
            },
        };
        IpNet::new(addr, prefix).ok_or(IpNetParseError("invalid prefix length"))
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// An IP address, optionally bracketed (`[::1]`).
pub(super) fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    let s = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    s.parse().ok()
}

/// Parses an allow-list: IPs and CIDR ranges separated by commas and/or
/// whitespace.
///
/// It fails closed: a list that names no address (empty, blank, or only
/// separators such as `", ,"`) is an error, never "every client", and so is
/// an empty entry between commas (`10.0.0.1,,10.0.0.2`, or a leading or
/// trailing comma), which is how a template with an unset part expands.
///
/// ```
/// let list = nanometrics::config::parse_allow_list("127.0.0.1, 10.0.0.0/8 ::1").unwrap();
/// assert_eq!(list.len(), 3);
/// assert!(nanometrics::config::parse_allow_list("10.0.0.0/8, nope").is_err());
/// assert!(nanometrics::config::parse_allow_list(" , ").is_err());
/// assert!(nanometrics::config::parse_allow_list("10.0.0.1,,10.0.0.2").is_err());
/// ```
pub fn parse_allow_list(s: &str) -> Result<Vec<IpNet>, IpNetParseError> {
    let mut nets = Vec::new();
    let mut empty_entry = false;
    for field in s.split(',') {
        let before = nets.len();
        for item in field.split_whitespace() {
            nets.push(item.parse()?);
        }
        empty_entry |= nets.len() == before;
    }
    if nets.is_empty() {
        return Err(IpNetParseError(NO_ADDRESS));
    }
    if empty_entry {
        return Err(IpNetParseError(
            "has an empty entry (two commas in a row, or a leading or trailing comma)",
        ));
    }
    Ok(nets)
}

/// Why an allow-list with no address is refused.
pub(super) const NO_ADDRESS: &str = "lists no address: expected IPs or CIDR ranges (10.0.0.0/8, ::1); leave it unset to allow every client";
